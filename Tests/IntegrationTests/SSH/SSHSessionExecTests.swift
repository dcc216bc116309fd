@testable import SSHClient
import Foundation
import Testing

/// Remote commands against the test bed's real sshd.
@Suite(.sshTestBed, .serialized)
struct SSHSessionExecTests {
    private func connected() async throws -> SSHSession {
        let host = try await SSHTestBed.shared.firstHost()
        let ssh = SSHSession(.init(user: host.user, privateKeyPath: host.identity, knownHostsPath: host.knownHosts))
        try ssh.connect(host: host.address, port: host.sshPort, timeout: .seconds(10))
        return ssh
    }

    private func execError(_ ssh: SSHSession, _ command: String, timeout: Duration) -> SSHError? {
        do {
            _ = try ssh.exec(command, timeout: timeout)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [("true", 0), ("false", 1), ("exit 7", 7), ("exit 255", 255)] as [(String, Int32)])
    func reportsExitStatus(_ command: String, _ status: Int32) async throws {
        let ssh = try await connected()
        #expect(try ssh.exec(command).exitStatus == status)
    }

    @Test func separatesStdoutAndStderr() async throws {
        let ssh = try await connected()
        let result = try ssh.exec("echo out; echo err >&2; printf 'x\\0y'; exit 3")
        #expect(result.exitStatus == 3)
        #expect(result.stdout == Array("out\nx\0y".utf8))
        #expect(result.stderr == Array("err\n".utf8))
    }

    /// A reader that waited on stdout alone would stall here: 3 MB go to stderr (more than
    /// the channel window) before stdout says a word.
    @Test func largeStderrBeforeStdoutDoesNotStall() async throws {
        let ssh = try await connected()
        let result = try ssh.exec("head -c 3000000 /dev/zero >&2; head -c 2000000 /dev/zero; echo done >&2",
                                  timeout: .seconds(30))
        #expect(result.exitStatus == 0)
        #expect(result.stdout.count == 2_000_000)
        #expect(result.stderr.count == 3_000_005)
    }

    /// A command that writes without end is cut off at the cap (per stream) with a clear
    /// error instead of growing memory; output up to the cap is returned whole; the session
    /// stays usable.
    @Test(arguments: ["", ">&2"])
    func outputBeyondTheCapIsAnError(_ redirect: String) async throws {
        let ssh = try await connected()
        let clock = ContinuousClock()
        var error: SSHError?
        let elapsed = clock.measure {
            do throws(SSHError) {
                _ = try ssh.exec("cat /dev/zero \(redirect)", timeout: .seconds(20), maxOutputBytes: 1 << 20)
            } catch let failure {
                error = failure
            }
        }
        #expect(error?.code == .outputTooLarge)
        #expect(error?.description.contains(redirect.isEmpty ? "stdout" : "stderr") == true, "\(String(describing: error))")
        #expect(elapsed < .seconds(10), "cut off at the cap, not at the timeout")
        let exact = try ssh.exec("head -c 1048576 /dev/zero \(redirect)", maxOutputBytes: 1 << 20)
        #expect((redirect.isEmpty ? exact.stdout : exact.stderr).count == 1 << 20)
        #expect(try ssh.exec("echo still here").stdout == Array("still here\n".utf8))
    }

    @Test func commandsReadingStdinSeeEndOfFile() async throws {
        let ssh = try await connected()
        let result = try ssh.exec("cat; echo after", timeout: .seconds(5))
        #expect(result.exitStatus == 0)
        #expect(result.stdout == Array("after\n".utf8))
    }

    @Test func killedBySignalReportsShellStyleStatus() async throws {
        let ssh = try await connected()
        #expect(try ssh.exec("kill -TERM $$").exitStatus == 128 + 15)
    }

    @Test func timeoutStopsWaitingAndTheSessionStaysUsable() async throws {
        let ssh = try await connected()
        let clock = ContinuousClock()
        var error: SSHError?
        let elapsed = clock.measure { error = execError(ssh, "sleep 20", timeout: .seconds(1)) }
        #expect(error?.code == .timeout)
        #expect(elapsed >= .seconds(1) && elapsed < .milliseconds(2500))
        #expect(try ssh.exec("echo still here").stdout == Array("still here\n".utf8))
    }

    @Test func manyCommandsOnOneSession() async throws {
        let ssh = try await connected()
        for index in 0..<20 {
            #expect(try ssh.exec("echo \(index)").stdout == Array("\(index)\n".utf8))
        }
    }

    @Test(arguments: ["plain", "it's", "a b", "$(touch /tmp/pwned)", "back\\slash", "new\nline", ""])
    func shellQuotingRoundTrips(_ text: String) async throws {
        let ssh = try await connected()
        let result = try ssh.exec("printf %s " + SSHSession.shellQuoted(text))
        #expect(result.stdout == Array(text.utf8))
    }
}

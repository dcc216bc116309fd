@testable import SSHClient
import Foundation
import Testing

/// SFTP upload (progress, resume), stat and mkdir -p against the test bed's real sshd.
@Suite(.sshTestBed, .serialized)
struct SSHSessionSFTPTests {
    /// A connected session and a fresh remote directory under the host's image directory.
    private func connected() async throws -> (SSHSession, remoteDirectory: String) {
        let host = try await SSHTestBed.shared.firstHost()
        let ssh = SSHSession(.init(user: host.user, privateKeyPath: host.identity, knownHostsPath: host.knownHosts))
        try ssh.connect(host: host.address, port: host.sshPort, timeout: .seconds(10))
        let directory = "\(host.imageDir)/ssh-tests/\(UUID().uuidString)"
        try ssh.makeDirectory(directory)
        return (ssh, directory)
    }

    private func randomFile(in scratch: SSHScratchDirectory, bytes: Int) throws -> String {
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        let data = random.readData(ofLength: bytes)
        try random.close()
        let path = scratch.path + "/payload-\(bytes)"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    private func localSHA256(_ path: String) throws -> String {
        String(try SSHTestShell.check(["sha256sum", path]).prefix(64))
    }

    private func remoteSHA256(_ ssh: SSHSession, _ path: String) throws -> String {
        let result = try ssh.exec("sha256sum -- " + SSHSession.shellQuoted(path))
        #expect(result.exitStatus == 0)
        return String(decoding: result.stdout.prefix(64), as: UTF8.self)
    }

    @Test func uploadsFiveMegabytesIntact() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let local = try randomFile(in: scratch, bytes: 5 * 1024 * 1024 + 123)
        let remote = directory + "/image.bin"

        var reports: [(done: UInt64, total: UInt64)] = []
        try ssh.upload(localPath: local, remotePath: remote) { done, total in
            reports.append((done, total))
            return true
        }

        #expect(try remoteSHA256(ssh, remote) == localSHA256(local))
        #expect(try ssh.stat(remote)?.size == 5 * 1024 * 1024 + 123)
        #expect(try ssh.fileExists(remote + ".part") == false)
        #expect(reports.first?.done == 0)
        #expect(reports.last?.done == 5 * 1024 * 1024 + 123)
        #expect(reports.allSatisfy { $0.total == 5 * 1024 * 1024 + 123 })
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.done <= $1.done })
        #expect(reports.count > 2)
    }

    @Test func resumesAfterAnInterruptedUpload() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let local = try randomFile(in: scratch, bytes: 5 * 1024 * 1024)
        let remote = directory + "/image.bin"

        do {
            try ssh.upload(localPath: local, remotePath: remote) { done, _ in done < 2 * 1024 * 1024 }
            Issue.record("the upload was not stopped")
        } catch {
            #expect(error.code == .cancelled)
        }
        #expect(try ssh.fileExists(remote) == false)
        let partial = try #require(try ssh.stat(remote + ".part")?.size)
        #expect(partial >= 2 * 1024 * 1024 && partial < 5 * 1024 * 1024)

        var first: UInt64?
        var last: UInt64 = 0
        try ssh.upload(localPath: local, remotePath: remote) { done, _ in
            if first == nil { first = done }
            #expect(done >= last)
            last = done
            return true
        }
        #expect(first == partial)
        #expect(last == 5 * 1024 * 1024)
        #expect(try remoteSHA256(ssh, remote) == localSHA256(local))
        #expect(try ssh.fileExists(remote + ".part") == false)
    }

    @Test func resumesOnAFreshSessionAsWell() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let local = try randomFile(in: scratch, bytes: 3 * 1024 * 1024)
        let remote = directory + "/image.bin"
        _ = try? ssh.upload(localPath: local, remotePath: remote) { done, _ in done < 1024 * 1024 }
        ssh.disconnect()

        let (again, _) = try await connected()
        var first: UInt64?
        try again.upload(localPath: local, remotePath: remote) { done, _ in
            if first == nil { first = done }
            return true
        }
        #expect((first ?? 0) >= 1024 * 1024)
        #expect(try remoteSHA256(again, remote) == localSHA256(local))
    }

    @Test func partFileLongerThanTheSourceStartsOver() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let big = try randomFile(in: scratch, bytes: 600_000)
        let small = try randomFile(in: scratch, bytes: 400_000)
        let remote = directory + "/image.bin"
        try ssh.upload(localPath: big, remotePath: remote + ".part")

        var first: UInt64?
        try ssh.upload(localPath: small, remotePath: remote) { done, _ in
            if first == nil { first = done }
            return true
        }
        #expect(first == 0)
        #expect(try remoteSHA256(ssh, remote) == localSHA256(small))
    }

    @Test func replacesAnExistingFile() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let remote = directory + "/image.bin"
        try ssh.upload(localPath: randomFile(in: scratch, bytes: 1000), remotePath: remote)
        let second = try randomFile(in: scratch, bytes: 2000)
        try ssh.upload(localPath: second, remotePath: remote)
        #expect(try remoteSHA256(ssh, remote) == localSHA256(second))
    }

    @Test func uploadsAnEmptyFile() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let empty = try scratch.write("empty", "")
        var reports: [UInt64] = []
        try ssh.upload(localPath: empty, remotePath: directory + "/empty") { done, total in
            reports.append(done)
            #expect(total == 0)
            return true
        }
        #expect(reports == [0])
        #expect(try ssh.stat(directory + "/empty")?.size == 0)
    }

    @Test func missingLocalFileIsALocalFileError() async throws {
        let (ssh, directory) = try await connected()
        do {
            try ssh.upload(localPath: "/nonexistent/\(UUID().uuidString)", remotePath: directory + "/x")
            Issue.record("upload of a missing file succeeded")
        } catch {
            #expect(error.code == .localFile)
        }
    }

    @Test func uploadIntoAMissingDirectoryIsAnSFTPError() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        let local = try scratch.write("f", "x")
        do {
            try ssh.upload(localPath: local, remotePath: directory + "/no/such/dir/f")
            Issue.record("upload into a missing directory succeeded")
        } catch {
            #expect(error.code == .sftp)
            #expect(error.sftpStatus == 2)  // SSH_FX_NO_SUCH_FILE
        }
    }

    @Test func makeDirectoryCreatesParentsAndIsIdempotent() async throws {
        let (ssh, directory) = try await connected()
        let nested = directory + "/a/b/c"
        try ssh.makeDirectory(nested)
        try ssh.makeDirectory(nested)
        #expect(try ssh.stat(nested)?.isDirectory == true)
        #expect(try ssh.exec("test -d " + SSHSession.shellQuoted(nested)).exitStatus == 0)
    }

    @Test func makeDirectoryRefusesAFileInTheWay() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        try ssh.upload(localPath: try scratch.write("f", "x"), remotePath: directory + "/file")
        do {
            try ssh.makeDirectory(directory + "/file/sub")
            Issue.record("mkdir through a file succeeded")
        } catch {
            #expect(error.code == .sftp)
        }
    }

    @Test func statAndFileExistsDistinguishKinds() async throws {
        let (ssh, directory) = try await connected()
        let scratch = try SSHScratchDirectory()
        try ssh.upload(localPath: try scratch.write("f", "12345"), remotePath: directory + "/file")
        let file = try #require(try ssh.stat(directory + "/file"))
        #expect(file.isRegularFile && !file.isDirectory && file.size == 5)
        #expect(try ssh.stat(directory)?.isDirectory == true)
        #expect(try ssh.stat(directory + "/absent") == nil)
        #expect(try ssh.fileExists(directory + "/absent") == false)
        #expect(try ssh.removeFile(directory + "/file"))
        #expect(try ssh.removeFile(directory + "/file") == false)
    }

    /// The test bed gives every host its own image directory (pitfall P5).
    @Test func imageDirectoryIsPrivateToTheHost() async throws {
        let (ssh, directory) = try await connected()
        #expect(try ssh.fileExists(directory))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}

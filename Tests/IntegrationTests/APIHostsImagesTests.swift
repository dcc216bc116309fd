import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Hosts and images through the API (`cvmctl host add|remove|probe`, `cvmctl image
/// build|verify` over HTTP), operations kept in the store across a daemon restart and marked
/// interrupted when their daemon was killed, and `cvmctl logs` showing the orchestrator's
/// journal of it all.
@Suite(.serialized) struct APIHostsImagesTests {
    @Test func hostsImagesAndOperationsThatOutliveTheDaemon() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        // The daemon's catalog: the real cvm-base beside a small image whose recipe takes as
        // long as its SLEEP file says (so a build can be cancelled, or outlive its daemon).
        cli.images = cli.state + "/images"
        let tiny = cli.images + "/tiny"
        try FileManager.default.createDirectory(atPath: tiny, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: cli.images + "/cvm-base", withDestinationPath: CLIHarness.repoRoot + "/images/cvm-base")
        try """
        name: tiny
        version: 0.1.0
        description: a test image
        tasks: [health-monitor]
        hypervisors: [qemu]
        defaults: { vcpus: 1, memoryMiB: 128, diskMiB: 64 }
        boot: { method: direct-kernel, cmdline: console=ttyS0 }
        artifacts:
          - { name: kernel, file: vmlinuz }
          - { name: initrd, file: initrd.img }
        recipe: recipe.sh

        """.write(toFile: tiny + "/manifest.yaml", atomically: true, encoding: .utf8)
        try """
        set -e
        out="$1"
        echo "tiny: writing the kernel"
        printf 'kernel bytes' > "$out/vmlinuz"
        echo "tiny: waiting $(cat "\(tiny)/SLEEP" 2>/dev/null || echo 0) s" >&2
        sleep "$(cat "\(tiny)/SLEEP" 2>/dev/null || echo 0)"
        printf 'initrd bytes' > "$out/initrd.img"
        echo "tiny: done"

        """.write(toFile: tiny + "/recipe.sh", atomically: true, encoding: .utf8)

        let admin = try #require(try cli.json([String: String].self, "token", "create", "--name", "ops", "--scope", "admin")["token"])
        let port = CVMBackupTests.freePort()
        var daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        func log() -> String { (try? String(contentsOfFile: cli.state + "/serve.log", encoding: .utf8)) ?? "" }
        try #require(eventually(timeout: 10) { (try? APITests.request(port, "/health"))?.status == 200 }, "no /health: \(log())")
        func call(_ method: String, _ path: String, _ json: String? = nil) throws -> APITests.Answer {
            try APITests.request(port, path, method: method, token: admin, json: json)
        }
        func finish(_ started: APITests.Answer, timeout: Double = 60) throws -> [String: Any] {
            let id = try #require(started.json?["id"] as? String, "\(started)")
            var last: [String: Any] = [:]
            _ = eventually(timeout: timeout) {
                last = (try? call("GET", "/v1/operations/\(id)").json) ?? [:]
                return last["state"] as? String != "running"
            }
            return last
        }

        // A host: bad requests are 400s with the field named, and nothing is added.
        let bed = try TestBedHosts.load().hosts[0]
        let readable = cli.state + "/readable-key"
        try FileManager.default.copyItem(atPath: bed.identity, toPath: readable)
        chmod(readable, 0o644)
        let good = #""address": "\#(bed.address)", "identity": "\#(bed.identity)", "hostKey": "\#(bed.hostKey)""#
        for (body, says) in [
            (#"{"name": "cloud", "address": "\#(bed.address)", "identity": "id_ed25519", "hostKey": "\#(bed.hostKey)"}"#, "absolute path"),
            (#"{"name": "cloud", "address": "\#(bed.address)", "identity": "\#(readable)", "hostKey": "\#(bed.hostKey)"}"#, "chmod 600"),
            (#"{"name": "cloud", "address": "cloud.example", "identity": "\#(bed.identity)", "hostKey": "\#(bed.hostKey)"}"#, "literal IPv4"),
            (#"{"name": "cloud", "address": "\#(bed.address)", "identity": "\#(bed.identity)"}"#, "acceptNewHostKey"),
            (#"{"name": "Cloud!", \#(good)}"#, "invalid host name"),
            (#"{"name": "cloud", \#(good), "hypervisors": ["xen"]}"#, "request is not valid"),
        ] {
            let refused = try call("POST", "/v1/hosts", body)
            #expect(refused.status == 400 && (refused.json?["detail"] as? String ?? "").contains(says), "\(body): \(refused)")
        }
        #expect(try call("POST", "/v1/hosts", #"{"name": "local", \#(good)}"#).status == 409)

        // Added as an operation (SSH with the pinned key, the CVM segment joined), probed, listed.
        let added = try finish(try call("POST", "/v1/hosts", #"{"name": "cloud", "zone": "eu", \#(good)}"#))
        #expect(added["state"] as? String == "succeeded" && added["kind"] as? String == "host-add", "\(added)")
        let hosts = try call("GET", "/v1/hosts").json?["hosts"] as? [[String: Any]] ?? []
        #expect(hosts.contains { $0["name"] as? String == "cloud" && $0["zone"] as? String == "eu" }, "\(hosts)")
        #expect(try call("POST", "/v1/hosts", #"{"name": "cloud", \#(good)}"#).status == 409, "added twice")
        let probe = try call("POST", "/v1/hosts/cloud/probe")
        #expect(probe.status == 200 && probe.json?["reachable"] as? Bool == true && probe.json?["hostname"] as? String != nil, "\(probe)")
        #expect(try call("POST", "/v1/hosts/ghost/probe").status == 404)

        // A CVM placed there keeps the host; once it is gone the host can be removed.
        let deployed = try cli.run("deploy", "--image", "cvm-base", "--task", "health-monitor", "--name", "h1", "--host", "cloud")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let kept = try call("DELETE", "/v1/hosts/cloud")
        #expect(kept.status == 409 && (kept.json?["detail"] as? String ?? "").contains("h1"), "\(kept)")
        #expect(try cli.run("decommission", "h1", "--grace", "0").status == 0)
        #expect(try call("DELETE", "/v1/hosts/local").status == 409)
        #expect(try call("DELETE", "/v1/hosts/cloud").status == 204)
        #expect(try call("DELETE", "/v1/hosts/cloud").status == 404)
        #expect(try cli.remoteTraces(of: "h1") == [])

        // Images: verified against their locks; built as an operation with the recipe's lines.
        let verified = try call("POST", "/v1/images/cvm-base/verify")
        #expect(verified.status == 200 && (verified.json?["artifacts"] as? [[String: Any]])?.count ?? 0 >= 2, "\(verified)")
        #expect(try call("POST", "/v1/images/ghost/verify").status == 404)
        #expect(try call("POST", "/v1/images/tiny/verify").status == 409, "not built yet")
        // Followed as Server-Sent Events: its lines, then its end, then the stream ends.
        let building = try call("POST", "/v1/images/tiny/build")
        let follow = try SSEReader(port: port, path: "/v1/operations/\(building.json?["id"] as? String ?? "")/stream", token: admin)
        defer { follow.close() }
        #expect(eventually(timeout: 30) { follow.text.hasSuffix("\r\n0\r\n\r\n") }, "the stream did not end: \(follow.text)")
        #expect(follow.text.contains(#"data: {"line":"tiny: writing the kernel"}"#) && follow.text.contains(#"data: {"line":"tiny: done"}"#), "\(follow.text)")
        #expect(follow.text.contains("event: end\ndata: {") && follow.text.contains(#""state":"succeeded""#), "\(follow.text)")
        #expect(try call("GET", "/v1/operations/nothing/stream").status == 404)
        let built = try finish(building)
        #expect(built["state"] as? String == "succeeded" && built["kind"] as? String == "image-build", "\(built)")
        #expect((built["progress"] as? [String] ?? []).contains("tiny: writing the kernel"), "\(built)")
        #expect(try call("POST", "/v1/images/tiny/verify").status == 200)
        try "kernel BYTES".write(toFile: tiny + "/build/vmlinuz", atomically: true, encoding: .utf8)
        let corrupted = try call("POST", "/v1/images/tiny/verify")
        #expect(corrupted.status == 409 && (corrupted.json?["detail"] as? String ?? "").contains("sha256"), "\(corrupted)")

        // A build cancelled midway: its recipe stops, the image is left not built.
        try "60".write(toFile: tiny + "/SLEEP", atomically: true, encoding: .utf8)
        let slow = try call("POST", "/v1/images/tiny/build")
        #expect(slow.status == 202)
        #expect(try eventually(timeout: 10) { (try? call("GET", "/v1/operations/\(slow.json?["id"] as? String ?? "")").json?["progress"] as? [String])??.contains("tiny: waiting 60 s") == true })
        #expect(try call("POST", "/v1/images/tiny/build").status == 409, "one build of an image at a time")
        #expect(try call("POST", "/v1/operations/\(slow.json?["id"] as? String ?? "")/cancel").status == 202)
        let cancelled = try finish(slow, timeout: 10)
        #expect(cancelled["state"] as? String == "cancelled", "\(cancelled)")
        #expect(eventually(timeout: 5) { Self.processes(containing: tiny + "/recipe.sh") == 0 }, "the recipe still runs")
        #expect(try call("POST", "/v1/images/tiny/verify").status == 409, "a cancelled build leaves the image not built")

        // The daemon restarts: it still answers for the operations of the one before.
        let addedID = try #require(added["id"] as? String)
        daemon.stopAndWait()
        daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)"], log: cli.state + "/serve2.log")
        try #require(eventually(timeout: 10) { (try? APITests.request(port, "/health"))?.status == 200 })
        let kept1 = try call("GET", "/v1/operations/\(addedID)")
        #expect(kept1.status == 200 && kept1.json?["state"] as? String == "succeeded" && kept1.json?["result"] as? String == added["result"] as? String, "\(kept1)")
        let kinds = (try call("GET", "/v1/operations").json?["operations"] as? [[String: Any]] ?? []).map { "\($0["kind"] ?? "")/\($0["state"] ?? "")" }
        #expect(kinds == ["host-add/succeeded", "image-build/succeeded", "image-build/cancelled"], "\(kinds)")

        // Killed while a build runs: the next daemon marks that operation interrupted.
        try "4".write(toFile: tiny + "/SLEEP", atomically: true, encoding: .utf8)
        let orphan = try call("POST", "/v1/images/tiny/build")
        let orphanID = try #require(orphan.json?["id"] as? String)
        #expect(try eventually(timeout: 10) { (try? call("GET", "/v1/operations/\(orphanID)").json?["progress"] as? [String])??.contains("tiny: waiting 4 s") == true })
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)"], log: cli.state + "/serve3.log")
        try #require(eventually(timeout: 10) { (try? APITests.request(port, "/health"))?.status == 200 })
        let interrupted = try call("GET", "/v1/operations/\(orphanID)")
        #expect(interrupted.json?["state"] as? String == "failed" && (interrupted.json?["error"] as? String ?? "").hasPrefix("interrupted"), "\(interrupted)")
        #expect(try call("POST", "/v1/operations/\(orphanID)/cancel").status == 409)
        #expect(eventually(timeout: 10) { Self.processes(containing: tiny + "/recipe.sh") == 0 })

        // `cvmctl logs`: the orchestrator's journal of what the API did, filtered.
        let journal = try cli.run("logs", "--kind", "host.")
        #expect(journal.status == 0 && journal.stdout.contains("host.added") && journal.stdout.contains("host.removed"), "\(journal.stdout)")
        #expect(!journal.stdout.contains("deploy."), "only host events: \(journal.stdout)")
        let deploys = try cli.run("logs", "--cvm", "h1", "--json", "--last", "1")
        #expect(deploys.status == 0 && deploys.stdout.split(separator: "\n").count == 1 && deploys.stdout.contains(#""cvm":"h1""#), "\(deploys.stdout)")
        #expect(try cli.run("logs", "--since", "1h").stdout == (try cli.run("events", "--since", "1h").stdout), "logs is the journal events shows")
        for bad in [["--since", "yesterday"], ["--last", "-1"]] {
            let out = try cli.run(["logs"] + bad)
            #expect(out.status != 0 && out.stderr.split(separator: "\n").count == 1, "\(bad): \(out.stderr)")
        }
    }

    /// How many processes have `text` in their command line.
    static func processes(containing text: String) -> Int {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { pid in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
        }.count
    }
}

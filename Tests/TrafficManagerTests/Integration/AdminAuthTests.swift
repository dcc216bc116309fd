import ConfigFile
import Foundation
import Testing
@testable import TrafficManager

extension ProxyTests {
    /// The admin endpoint answers only requests that carry the token of its token file.
    @Suite struct AdminAuth {
        static func yaml(tokenFile: String) -> String {
            """
            admin: { address: 127.0.0.1:0, tokenFile: "\(tokenFile)" }
            vServers:
              - name: web
                bind: 127.0.0.1:0
                services: [{ name: s, address: 127.0.0.1, port: 9, capacity: 1 }]
            """
        }

        @Test("no token, a wrong token or another scheme: 401 with one line; the token: 200",
              arguments: ["/usage", "/status", "/metrics", "/reload", "/nope"])
        func requiresTheToken(_ path: String) async throws {
            let method = path == "/reload" ? "POST" : "GET"
            let tokenFile = freshTokenFile()
            try await withTrafficManager(Self.yaml(tokenFile: tokenFile)) { manager in
                await manager.sampleUsage()
                let admin = try #require(manager.adminAddress)
                let token = try adminToken(tokenFile)
                for wrong in [nil, String(repeating: "0", count: 64), String(token.dropLast()), token + "0", ""] as [String?] {
                    let answer = try await AdminClient.request(method == "POST" ? .POST : .GET, path, to: admin, token: wrong)
                    #expect(answer.status == 401, "\(method) \(path) with \(wrong == nil ? "no" : "a wrong") token")
                    #expect(answer.text.split(separator: "\n").count == 1 && answer.text.contains("admin token"))
                    #expect(!answer.text.contains(token))
                }
                let basic = try await rawRequest(admin, "\(method) \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(token)\r\nConnection: close\r\n\r\n")
                #expect(basic.hasPrefix("HTTP/1.1 401"), "\(basic)")
                let twice = try await rawRequest(admin, "\(method) \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                                                 + "Authorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
                #expect(twice.hasPrefix("HTTP/1.1 401"), "two Authorization headers are refused: \(twice)")

                let right = try await AdminClient.request(method == "POST" ? .POST : .GET, path, to: admin, token: token)
                // /reload has no configuration file here (400), /nope does not exist (404): past the check either way.
                let expected = path == "/reload" ? 400 : path == "/nope" ? 404 : 200
                #expect(right.status == expected, "\(method) \(path): \(right.text)")
            }
        }

        @Test("the token file is created with mode 0600 and reused by the next start")
        func tokenFileCreatedPrivateAndReused() async throws {
            let tokenFile = freshTokenFile()
            let first = try await withTrafficManager(Self.yaml(tokenFile: tokenFile)) { _ in try adminToken(tokenFile) }
            let attributes = try FileManager.default.attributesOfItem(atPath: tokenFile)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(first.count == 64 && first.allSatisfy(\.isHexDigit))
            let second = try await withTrafficManager(Self.yaml(tokenFile: tokenFile)) { _ in try adminToken(tokenFile) }
            #expect(second == first)
        }

        @Test("a token file other users may read is refused: the traffic manager does not start")
        func openTokenFileRefused() async throws {
            let tokenFile = freshTokenFile()
            _ = try TokenFile.readOrCreate(path: tokenFile)
            #expect(chmod(tokenFile, 0o644) == 0)
            let manager = TrafficManager(config: try TMSConfig.parse(Self.yaml(tokenFile: tokenFile), file: "t"), cores: 1)
            do {
                try await manager.start()
                await manager.shutdown()
                Issue.record("started with a world-readable token file")
            } catch let error as TokenFile.Failure {
                #expect(error.code == .tooOpen)
                #expect(error.description.contains("chmod 600 \(tokenFile)"))
            }
            #expect(throws: TokenFile.Failure.self) { try TokenFile.read(path: tokenFile) }
        }

        @Test("scoped tokens: read may GET, not reload; admin may reload; a revoked or made-up one is refused at once; the file keeps hashes only")
        func scopedTokens() async throws {
            let tokenFile = freshTokenFile()
            let tokensFile = (tokenFile as NSString).deletingLastPathComponent + "/admin.tokens"
            let reader = try AdminTokens.create(path: tokensFile, name: "grafana", scope: .read)
            let operator_ = try AdminTokens.create(path: tokensFile, name: "ops", scope: .admin)
            let stored = try String(contentsOfFile: tokensFile, encoding: .utf8)
            #expect(!stored.contains(reader.token) && !stored.contains(operator_.token) && stored.contains(reader.entry.sha256))
            #expect((try FileManager.default.attributesOfItem(atPath: tokensFile)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let yaml = Self.yaml(tokenFile: tokenFile).replacingOccurrences(of: "tokenFile: \"\(tokenFile)\" }",
                                                                           with: "tokenFile: \"\(tokenFile)\", tokensFile: \"\(tokensFile)\" }")
            try await withTrafficManager(yaml) { manager in
                await manager.sampleUsage()
                let admin = try #require(manager.adminAddress)
                for path in ["/usage", "/metrics", "/status"] {
                    #expect(try await AdminClient.request(.GET, path, to: admin, token: reader.token).status == 200, "\(path)")
                }
                let denied = try await AdminClient.request(.POST, "/reload", to: admin, token: reader.token)
                #expect(denied.status == 403 && denied.text.contains("scope read"), "\(denied.text)")
                #expect(try await AdminClient.request(.POST, "/reload", to: admin, token: operator_.token).status == 400, "past the check: no file to reload")
                let madeUp = "tms_\(reader.entry.id)_" + String(repeating: "0", count: 64)
                #expect(try await AdminClient.request(.GET, "/usage", to: admin, token: madeUp).status == 401)

                #expect(try AdminTokens.revoke(path: tokensFile, id: reader.entry.id))
                #expect(try await AdminClient.request(.GET, "/usage", to: admin, token: reader.token).status == 401, "revoked: refused at once")
                #expect(try await AdminClient.request(.GET, "/usage", to: admin, token: operator_.token).status == 200)

                // A tokens file others may read grants nothing (the admin token file still works).
                #expect(chmod(tokensFile, 0o644) == 0)
                #expect(try await AdminClient.request(.GET, "/usage", to: admin, token: operator_.token).status == 401)
                #expect(try await AdminClient.request(.GET, "/usage", to: admin, token: try adminToken(tokenFile)).status == 200)
            }
            // ... and the traffic manager does not start with it.
            let manager = TrafficManager(config: try TMSConfig.parse(yaml, file: "t"), cores: 1)
            do {
                try await manager.start()
                await manager.shutdown()
                Issue.record("started with a tokens file others may read")
            } catch {
                #expect("\(error)".contains("chmod 600 \(tokensFile)"), "\(error)")
            }
            #expect(throws: AdminTokens.Failure.self) { try AdminTokens.create(path: tokensFile, name: "x", scope: .read) }
        }

        @Test("TokenFile: missing, malformed and open files are one-line errors; comparison is exact")
        func tokenFileErrors() throws {
            let missing = freshTokenFile()
            #expect(throws: TokenFile.Failure(code: .missing, path: missing, reason: "No such file or directory")) {
                try TokenFile.read(path: missing)
            }
            let token = try TokenFile.readOrCreate(path: missing)
            #expect(try TokenFile.read(path: missing) == token)
            try "short\n".write(toFile: missing, atomically: false, encoding: .utf8)
            #expect(chmod(missing, 0o600) == 0)
            #expect(throws: TokenFile.Failure.self) { try TokenFile.read(path: missing) }
            for failure in [TokenFile.Failure(code: .missing, path: "/x", reason: "r"),
                            TokenFile.Failure(code: .tooOpen, path: "/x", reason: "open to other users (mode 644)")] {
                #expect(!failure.description.contains("\n"))
            }
            #expect(TokenFile.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
            #expect(!TokenFile.constantTimeEqual(Array("abd".utf8), Array("abc".utf8)))
            #expect(!TokenFile.constantTimeEqual(Array("ab".utf8), Array("abc".utf8)))
            #expect(!TokenFile.constantTimeEqual(Array("abcd".utf8), Array("abc".utf8)))
            #expect(!TokenFile.constantTimeEqual([UInt8](), Array("abc".utf8)))
        }
    }
}

/// Sends `request` as is over a fresh connection and returns everything the server answers.
private func rawRequest(_ address: HostPort, _ request: String) async throws -> String {
    let connection = try await TestConnection.connect(to: address)
    try await connection.send(Array(request.utf8))
    let answer = try await connection.receiveUntilEnd(timeout: .seconds(5))
    await connection.close()
    return String(decoding: answer, as: UTF8.self)
}

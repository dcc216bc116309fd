import ArgumentParser
import Foundation
import Logging
import Synchronization
import Testing
@testable import cvmctl

@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    @Test("each entry is one line of JSON: time, level, label, message, source, metadata; hostile text stays inside its string")
    func linesAreJSON() throws {
        let lines = Lines()
        var logger = Logger(label: "cvmctl") { label in
            JSONLogHandler(label: label) { line in lines.all.withLock { $0.append(line) } }
        }
        logger.logLevel = .debug
        logger[metadataKey: "cvm.name"] = "web-1"
        let hostile = "a \"quoted\"\nsecond line\u{0}\u{1B}[31m \\ é 🚀"
        logger.info("\(hostile)", metadata: ["list": ["x", "y\""], "map": ["k": "v"], "n": "\(42)"])
        logger.debug("second")
        logger.trace("not written")
        let written = lines.all.withLock { $0 }
        #expect(written.count == 2)
        for line in written {
            #expect(line.hasSuffix("}\n") && line.dropLast().contains("\n") == false, "one line: \(line)")
        }
        let first = try #require(JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: Any])
        #expect(first["message"] as? String == hostile)
        #expect(first["level"] as? String == "info")
        #expect(first["label"] as? String == "cvmctl")
        let metadata = try #require(first["metadata"] as? [String: String])
        #expect(metadata == ["cvm.name": "web-1", "list": #"["x","y\""]"#, "map": #"{"k":"v"}"#, "n": "42"])
        let time = try #require(first["time"] as? String)
        #expect(time.count == 24 && time.hasSuffix("Z"), "ISO 8601 with ms, UTC: \(time)")
        #expect(ISO8601DateFormatter().date(from: time.replacingOccurrences(of: #"\.\d{3}"#, with: "", options: .regularExpression)) != nil)
        let second = try #require(JSONSerialization.jsonObject(with: Data(written[1].utf8)) as? [String: Any])
        #expect(second["level"] as? String == "debug")
    }

    @Test("--log-format takes text or json; anything else is refused with the choices")
    func flagValidation() throws {
        #expect(try GlobalOptions.parse(["--log-format", "json"]).logFormat == .json)
        #expect(try GlobalOptions.parse([]).logFormat == nil)
        #expect(throws: (any Error).self) { try GlobalOptions.parse(["--log-format", "yaml"]) }
    }
}

import CVMProtocol
import Foundation
import Testing

@Suite struct CPIOWriterTests {
    static let config = Array("id=x\nsecret=00\n".utf8)

    func overlay() throws -> [UInt8] {
        var cpio = CPIOWriter()
        try cpio.addDirectory("etc", mode: 0o755)
        try cpio.addDirectory("etc/cvm", mode: 0o700)
        try cpio.addFile("etc/cvm/config", mode: 0o600, contents: Self.config)
        try cpio.addFile("etc/empty", mode: 0o644, contents: [])
        try cpio.addFile("etc/odd", mode: 0o4755, contents: [1, 2, 3, 4, 5])
        try cpio.addCharacterDevice("console", mode: 0o600, major: 5, minor: 1)
        return cpio.finish()
    }

    /// Runs /usr/bin/cpio with `arguments`, feeding `input`; returns stdout.
    func cpio(_ arguments: [String], input: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cpio-\(UUID().uuidString)")
        try Data(input).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cpio")
        // Archive on stdin: with -F, GNU cpio's copy-in may prompt on /dev/tty.
        process.arguments = arguments + ["--quiet"]
        process.standardInput = try FileHandle(forReadingFrom: url)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "cpio \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }

    @Test func gnuCpioListsNamesModesOwnersAndTimes() throws {
        let listing = try cpio(["-itv"], input: overlay())
        let rows = listing.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(rows.map { String($0.last!) } == ["etc", "etc/cvm", "etc/cvm/config", "etc/empty", "etc/odd", "console"])
        #expect(rows.map { String($0[0]) } == ["drwxr-xr-x", "drwx------", "-rw-------", "-rw-r--r--", "-rwsr-xr-x", "crw-------"])
        #expect(rows.allSatisfy { $0[2] == "root" && $0[3] == "root" })
        #expect(rows[2][4] == "\(Self.config.count)")
        #expect(rows[5][4] == "5," && rows[5][5] == "1")
        #expect(listing.contains("Jan  1  1970"))
    }

    @Test func gnuCpioExtractsTheExactContents() throws {
        let bytes = try overlay()
        #expect(try cpio(["-i", "--to-stdout", "etc/cvm/config"], input: bytes) == Self.config.text)
        #expect(try cpio(["-i", "--to-stdout", "etc/odd"], input: bytes).utf8.elementsEqual([1, 2, 3, 4, 5]))
    }

    @Test func layoutIsDeterministicAlignedAndEndsWithTheTrailer() throws {
        let bytes = try overlay()
        #expect(try overlay() == bytes)
        #expect(bytes.count % 4 == 0)
        #expect(bytes.starts(with: Array("07070100000001000041ED".utf8)))  // ino 1, dir 0755
        let trailer = Array("TRAILER!!!".utf8)
        let tail = bytes.suffix(trailer.count + 8)
        #expect(tail.firstRange(of: trailer) != nil)
    }

    @Test func mtimeIsConfigurable() throws {
        var cpio = CPIOWriter(mtime: 0x5F5E_1000)
        try cpio.addFile("f", contents: [])
        let header = Array(cpio.finish().prefix(110)).text
        // Fields: magic(6) ino mode uid gid nlink mtime ...
        #expect(header.dropFirst(6 + 8 * 5).prefix(8) == "5F5E1000")
    }

    @Test(arguments: ["", "/etc", "etc/../x", "etc//x", "./etc", "TRAILER!!!", "etc/"])
    func rejectsUnsafePaths(path: String) {
        var cpio = CPIOWriter()
        #expect(throws: CPIOWriter.PathError.self) { try cpio.addFile(path, contents: []) }
    }

    @Test func rejectsDuplicatePaths() throws {
        var cpio = CPIOWriter()
        try cpio.addDirectory("etc")
        #expect(throws: CPIOWriter.PathError.self) { try cpio.addDirectory("etc") }
    }

    @Test(arguments: [(0, 0), (1, 3), (2, 2), (3, 1), (4, 0), (2_816_021, 3)])
    func paddingAlignsTheNextArchive(length: Int, padding: Int) {
        #expect(CPIOWriter.paddingBeforeAppend(toLength: length) == padding)
    }
}

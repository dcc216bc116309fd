import CVMProtocol
import Foundation
import Testing

@Suite struct SHA256Tests {
    // FIPS 180-2 / NIST CAVP example vectors.
    @Test(arguments: [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func nistVectors(message: String, digest: String) {
        #expect(Hex.encode(SHA256.hash(message.utf8)) == digest)
    }

    @Test func oneMillionA() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(Hex.encode(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func anySplitIntoChunksGivesTheOneShotDigest() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let expected = SHA256.hash(message)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 200, 299, 300] {
            var hasher = SHA256()
            message[..<split].withUnsafeBytes { hasher.update($0) }
            hasher.update(message[split...])
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
    }

    @Test func nonContiguousSequencesHashLikeArrays() {
        let lazyBytes = (0..<5000).lazy.map { UInt8(truncatingIfNeeded: $0) }
        #expect(SHA256.hash(lazyBytes) == SHA256.hash(Array(lazyBytes)))
    }

    /// Cross-checks lengths around the padding boundaries against coreutils' sha256sum.
    @Test func agreesWithSha256sum() throws {
        for length in [1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 4097] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("sha256-\(length)-\(UUID().uuidString)")
            try Data(data).write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [url.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(output.split(separator: " ").first.map(String.init) == Hex.encode(SHA256.hash(data)),
                    "length \(length)")
        }
    }
}

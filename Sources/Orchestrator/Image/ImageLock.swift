import Foundation

/// What a build produced: each artifact's sha256 and size, plus the inputs the recipe
/// resolved. Written by `cvmctl image build` to `build/manifest.lock` and checked before
/// every use of the image.
public struct ImageLock: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var file: String
        public var sha256: String
        public var bytes: Int64
    }
    public var image: String
    public var version: String
    public var builtAt: Date
    public var artifacts: [String: Entry]
    public var inputs: [String]

    static func load(path: String) throws -> ImageLock? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(ImageLock.self, from: data)
    }

    func write(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

import Foundation

extension PolicyFile {
    /// The `*.yaml` and `*.yml` files directly in `directory`, sorted by name, each reported
    /// as `prefix` + file name (default: the directory path as given + "/").
    public static func files(inDirectory directory: String, reportedAs prefix: String? = nil) throws -> [PolicyFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return try names.map { name in
            let text = try String(contentsOfFile: base + name, encoding: .utf8)
            return PolicyFile(path: (prefix ?? base) + name, text: text)
        }
    }
}

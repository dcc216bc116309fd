import ConfigFile
import Yams

/// Reads and validates policy files into a ``PolicySet``.
///
/// Files may split the sections any way (`tiers.yaml`, `tasks.yaml`, ... or everything in one
/// file); each file is a mapping whose top-level keys are sections: `tiers`, `tasks`, `clouds`,
/// `servers`, `elastic`, `placement`. A name defined in two files is an error, as is a second
/// `elastic` or `placement` section.
public enum PolicyLoader {
    static let sectionKeys = ["tiers", "tasks", "clouds", "servers", "elastic", "placement"]

    /// The validated policy set, or every problem found in every file.
    public static func load(_ files: [PolicyFile], context: PolicyContext = .none) throws(PolicyValidationError) -> PolicySet {
        let (draft, diagnostics) = read(files, context: context)
        guard diagnostics.isEmpty else { throw PolicyValidationError(diagnostics: diagnostics) }
        return draft.build(images: context.images)
    }

    /// Every problem found, sorted by file, line and column; empty when the files are valid.
    public static func validate(_ files: [PolicyFile], context: PolicyContext = .none) -> [PolicyDiagnostic] {
        read(files, context: context).diagnostics.sorted()
    }

    static func read(_ files: [PolicyFile], context: PolicyContext) -> (draft: PolicyDraft, diagnostics: [PolicyDiagnostic]) {
        var draft = PolicyDraft()
        var diagnostics: [PolicyDiagnostic] = []
        var sources = PolicySourceMap()
        for file in files.sorted(by: { $0.path < $1.path }) {
            var reader = PolicyReader(file: file.path, sources: sources)
            reader.readDocument(file.text, into: &draft)
            diagnostics += reader.diagnostics
            sources = reader.sources
        }
        draft.sources = sources
        diagnostics += draft.crossCheck(context: context)
        return (draft, diagnostics)
    }
}

extension PolicyReader {
    /// Parses one file's text and reads its sections into `draft`. Text that is too large,
    /// too deep or not YAML is one syntax diagnostic at its position.
    mutating func readDocument(_ text: String, into draft: inout PolicyDraft) {
        let root: Node?
        do {
            root = try YAMLText.compose(text)
        } catch {
            let message = error.code == .syntax ? "YAML syntax: \(error.message)" : error.message
            report(.syntax, at: PolicyLocation(file: file, line: error.line, column: error.column), key: "", message)
            return
        }
        guard let root, !root.isNull else { return }  // an empty file defines nothing
        let document = PolicyField(key: "", path: "", keyLocation: location(root), value: root, valueLocation: location(root))
        let sections = fields(of: document, allowed: PolicyLoader.sectionKeys)
        if let v = sections["clouds"] { readClouds(v, into: &draft) }
        if let v = sections["servers"] { readServers(v, into: &draft) }
        if let v = sections["tiers"] { readTiers(v, into: &draft) }
        if let v = sections["tasks"] { readTasks(v, into: &draft) }
        if let v = sections["elastic"] { readElastic(v, into: &draft) }
        if let v = sections["placement"] { readPlacement(v, into: &draft) }
    }
}

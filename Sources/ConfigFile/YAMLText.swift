import Foundation
import Yams

/// The one place where configuration text becomes a Yams node: the policy reader, the
/// traffic manager's configuration and the image manifests all go through `compose`.
///
/// The text is bounded before libyaml and Yams see it — its size, then its nesting depth by
/// `YAMLNestingScan`, which walks the text once without recursing — because Yams builds
/// nodes recursively and a deep enough document overflows the stack of the reader's thread.
package enum YAMLText {
    /// The single document of `text`, or nil when it holds none (empty, or only comments).
    /// - Throws: `YAMLTextError`: `.tooLarge` or `.tooDeep` before parsing, `.syntax` with
    ///   libyaml's position and problem.
    package static func compose(_ text: String, limits: YAMLLimits = .standard) throws(YAMLTextError) -> Node? {
        let size = text.utf8.count
        guard size <= limits.maximumBytes else {
            throw YAMLTextError(code: .tooLarge, line: 1, column: 1, message: tooLarge(limits))
        }
        if let excess = YAMLNestingScan.firstExcess(in: text, limit: limits.maximumDepth) {
            throw YAMLTextError(code: .tooDeep, line: excess.line, column: excess.column,
                                message: "nested more than \(limits.maximumDepth) levels deep")
        }
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw YAMLTextError(error, in: text)
        } catch {
            throw YAMLTextError(code: .syntax, line: 1, column: 1, message: oneLine("\(error)"))
        }
    }

    /// `compose`, its errors as configuration-file errors naming `file`.
    package static func compose(_ text: String, file: String, limits: YAMLLimits = .standard) throws(ConfigFileError) -> Node? {
        do {
            return try compose(text, limits: limits)
        } catch {
            throw ConfigFileError(error, file: file)
        }
    }

    /// The UTF-8 text of `file`, refused without reading it whole when it is larger than
    /// `limits.maximumBytes`. Blocking file I/O.
    package static func read(file: String, limits: YAMLLimits = .standard) throws(ConfigFileError) -> String {
        func unreadable(_ reason: String) -> ConfigFileError {
            ConfigFileError(file: file, line: 0, column: 0, key: "-", problem: "cannot read the file: \(reason)")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
            defer { try? handle.close() }
            data = try handle.read(upToCount: limits.maximumBytes + 1) ?? Data()
        } catch {
            throw unreadable(error.localizedDescription)
        }
        guard data.count <= limits.maximumBytes else {
            throw ConfigFileError(file: file, line: 1, column: 1, key: "-", problem: tooLarge(limits))
        }
        guard let text = String(data: data, encoding: .utf8) else { throw unreadable("not UTF-8 text") }
        return text
    }

    private static func tooLarge(_ limits: YAMLLimits) -> String {
        let size = limits.maximumBytes % (1 << 20) == 0 ? "\(limits.maximumBytes >> 20) MiB" : "\(limits.maximumBytes) bytes"
        return "larger than \(size), the most a configuration file may hold"
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

extension YAMLTextError {
    /// libyaml's problem and context (`did not find expected ',' or ']' (while parsing a flow
    /// sequence)`) at its position.
    init(_ error: YamlError, in text: String) {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            let detail = context.map { " (\($0.text))" } ?? ""
            self.init(code: .syntax, line: mark.line, column: mark.column, message: YAMLText.oneLine(problem + detail))
        case let .reader(problem, offset, _, _):
            let (line, column) = offset.map { Self.position(ofCharacter: $0, in: text) } ?? (1, 1)
            self.init(code: .syntax, line: line, column: column, message: YAMLText.oneLine(problem))
        default:
            self.init(code: .syntax, line: 1, column: 1, message: YAMLText.oneLine("\(error)"))
        }
    }

    /// 1-based line and column of the character at `offset`.
    private static func position(ofCharacter offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1
        for character in text.prefix(offset) {
            if character.isNewline { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }
}

import Foundation

/// Man pages (roff, `man 7 man` macros) made from the command tree as ArgumentParser describes
/// it (`--experimental-dump-help`): `cvmctl.1`, and `cvmctl-SUB[-SUB].1` for each subcommand.
enum ManPages {
    struct Page: Equatable {
        var name: String
        var text: String
    }

    /// Every page of the tree in `dump` (the JSON of `--experimental-dump-help`).
    static func pages(dump: Data, version: String, date: String) throws -> [Page] {
        guard let root = (try JSONSerialization.jsonObject(with: dump) as? [String: Any])?["command"] as? [String: Any] else {
            throw CocoaError(.coderReadCorrupt)
        }
        var pages: [Page] = []
        func visit(_ command: [String: Any], path: [String]) {
            guard command["shouldDisplay"] as? Bool ?? true, command["commandName"] as? String != "help" else { return }
            let name = path.joined(separator: "-")
            pages.append(Page(name: name, text: page(command, path: path, version: version, date: date)))
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                visit(sub, path: path + [sub["commandName"] as? String ?? "?"])
            }
        }
        visit(root, path: ["cvmctl"])
        return pages
    }

    static func page(_ command: [String: Any], path: [String], version: String, date: String) -> String {
        let name = path.joined(separator: "-")
        var out = ".TH \(escape(name.uppercased())) 1 \"\(date)\" \"cvmctl \(escape(version))\" \"cvmctl manual\"\n"
        out += ".SH NAME\n\(escape(name)) \\- \(escape(command["abstract"] as? String ?? ""))\n"
        let arguments = (command["arguments"] as? [[String: Any]] ?? []).filter { $0["shouldDisplay"] as? Bool ?? true }
        let subcommands = (command["subcommands"] as? [[String: Any]] ?? []).filter {
            ($0["shouldDisplay"] as? Bool ?? true) && $0["commandName"] as? String != "help"
        }
        out += ".SH SYNOPSIS\n.B \(escape(path.joined(separator: " ")))\n"
        if !subcommands.isEmpty { out += ".I SUBCOMMAND\n" }
        for argument in arguments where argument["kind"] as? String == "positional" {
            out += ".I \(escape((argument["valueName"] as? String ?? "arg").uppercased()))\n"
        }
        if arguments.contains(where: { $0["kind"] as? String != "positional" }) { out += "[\\fIoptions\\fR]\n" }
        if let discussion = command["discussion"] as? String, !discussion.isEmpty {
            out += ".SH DESCRIPTION\n" + paragraphs(discussion)
        }
        if !subcommands.isEmpty {
            out += ".SH SUBCOMMANDS\n"
            for sub in subcommands {
                let subName = sub["commandName"] as? String ?? "?"
                out += ".TP\n.B \(escape(subName))\n\(escape(sub["abstract"] as? String ?? ""))"
                out += " See \\fB\(escape((path + [subName]).joined(separator: "-")))\\fR(1).\n"
            }
        }
        if !arguments.isEmpty {
            out += ".SH OPTIONS\n"
            for argument in arguments {
                out += ".TP\n" + term(argument) + "\n"
                var help = argument["abstract"] as? String ?? ""
                if let value = argument["defaultValue"] as? String, !value.isEmpty { help += " (default: \(value))" }
                if let values = argument["allValues"] as? [String], !values.isEmpty { help += " Values: \(values.joined(separator: ", "))." }
                out += escape(help) + "\n"
                if let discussion = argument["discussion"] as? String, !discussion.isEmpty { out += escape(discussion) + "\n" }
            }
        }
        out += ".SH SEE ALSO\n"
        let parent = path.count > 1 ? path.dropLast().joined(separator: "-") : nil
        out += (parent.map { "\\fB\(escape($0))\\fR(1), " } ?? "") + "\\fBsystemd.service\\fR(5), /etc/cvmctl/config.yaml\n"
        return out
    }

    /// `-v, --verbose` or `--image <name>` in bold and italics.
    private static func term(_ argument: [String: Any]) -> String {
        let kind = argument["kind"] as? String
        let value = argument["valueName"] as? String ?? "value"
        if kind == "positional" { return "\\fI\(escape(value))\\fR" }
        let names = (argument["names"] as? [[String: Any]] ?? []).map { name -> String in
            let text = name["name"] as? String ?? ""
            return (name["kind"] as? String == "short" ? "-" : "--") + text
        }
        var term = names.map { "\\fB\(escape($0))\\fR" }.joined(separator: ", ")
        if kind == "option" { term += " \\fI<\(escape(value))>\\fR" }
        return term
    }

    private static func paragraphs(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { ".PP\n" + escape($0.replacingOccurrences(of: "\n", with: " ")) + "\n" }.joined()
    }

    /// Text safe in roff: backslashes and hyphens escaped, no line starting a request.
    static func escape(_ text: String) -> String {
        var out = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        out = out.components(separatedBy: "\n").map { line in
            line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : line
        }.joined(separator: "\n")
        return out
    }
}

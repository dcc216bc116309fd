import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A minimal XML tree: enough to render libvirt documents with correct escaping, to parse
/// them back, and to carry elements we do not model through a read-modify-write unchanged.
public struct XMLTree: Sendable, Equatable {
    public indirect enum Node: Sendable, Equatable {
        case element(XMLTree)
        case text(String)
    }

    public var name: String
    /// Attributes in document order (libvirt does not care, but golden files do).
    public var attributes: [(String, String)]
    public var children: [Node]

    public init(_ name: String, _ attributes: [(String, String)] = [], children: [Node] = []) {
        self.name = name
        self.attributes = attributes
        self.children = children
    }

    /// An element holding only text, e.g. `<name>web1</name>`.
    public init(_ name: String, _ attributes: [(String, String)] = [], text: String) {
        self.init(name, attributes, children: [.text(text)])
    }

    public static func == (a: XMLTree, b: XMLTree) -> Bool {
        // Attribute order carries no meaning in XML.
        a.name == b.name && a.children == b.children
            && a.attributes.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }
                == b.attributes.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }
    }

    public subscript(attribute key: String) -> String? {
        attributes.first { $0.0 == key }?.1
    }

    public var elements: [XMLTree] {
        children.compactMap { if case .element(let e) = $0 { return e } else { return nil } }
    }

    public func first(_ name: String) -> XMLTree? { elements.first { $0.name == name } }

    public func all(_ name: String) -> [XMLTree] { elements.filter { $0.name == name } }

    /// The concatenated text content, trimmed.
    public var text: String {
        children.map { node -> String in
            switch node {
            case .text(let t): return t
            case .element(let e): return e.text
            }
        }.joined().trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

// MARK: Rendering

extension XMLTree {
    /// Renders with two-space indentation; text-only elements stay on one line.
    public func rendered(indent: Int = 0) -> String {
        var out = ""
        render(into: &out, depth: indent)
        return out
    }

    private func render(into out: inout String, depth: Int) {
        let pad = String(repeating: "  ", count: depth)
        out += pad + "<" + name
        for (k, v) in attributes { out += " \(k)='\(Self.escape(v, quote: true))'" }
        if children.isEmpty {
            out += "/>\n"
            return
        }
        if children.allSatisfy({ if case .text = $0 { return true } else { return false } }) {
            out += ">" + Self.escape(children.map { if case .text(let t) = $0 { return t } else { return "" } }.joined(),
                                     quote: false) + "</\(name)>\n"
            return
        }
        out += ">\n"
        for child in children {
            switch child {
            case .element(let e): e.render(into: &out, depth: depth + 1)
            case .text(let t):
                let trimmed = t.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { out += pad + "  " + Self.escape(trimmed, quote: false) + "\n" }
            }
        }
        out += pad + "</\(name)>\n"
    }

    static func escape(_ s: String, quote: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'" where quote: out += "&apos;"
            case "\"" where quote: out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

// MARK: Parsing

/// A document that could not be parsed.
public struct XMLParseError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "XML line \(line): \(message)" }
}

extension XMLTree {
    /// Parses a document into a tree. Whitespace-only text between elements is dropped;
    /// namespace prefixes are kept as written (`cvm:instance`).
    public static func parse(_ xml: String) throws -> XMLTree {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = delegate
        parser.shouldProcessNamespaces = false
        guard parser.parse(), let root = delegate.root else {
            throw XMLParseError(line: parser.lineNumber,
                                message: parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element")
        }
        return root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [XMLTree] = []
        var root: XMLTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            // XMLParser hands attributes over as a dictionary; sort for a stable order.
            stack.append(XMLTree(elementName, attributeDict.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            if case .text(let previous)? = stack[stack.count - 1].children.last {
                stack[stack.count - 1].children[stack[stack.count - 1].children.count - 1] = .text(previous + string)
            } else {
                stack[stack.count - 1].children.append(.text(string))
            }
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?) {
            var done = stack.removeLast()
            // Drop whitespace-only text in mixed content (indentation).
            if done.children.contains(where: { if case .element = $0 { return true } else { return false } }) {
                done.children.removeAll {
                    if case .text(let t) = $0 { return t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
                    return false
                }
            }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(.element(done)) }
        }
    }
}

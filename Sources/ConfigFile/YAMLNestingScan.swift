/// How deeply a YAML text nests, found by one pass over its bytes that keeps its own stack
/// and never recurses: the bound `YAMLText` checks before Yams (which recurses once per
/// level) sees the text.
///
/// It follows libyaml's scanner far enough to know what is structure: block collections by
/// the columns of their keys and `-` entries (libyaml's indentation stack), flow collections
/// by their brackets (and the one-pair mapping a `key: value` entry makes in a flow
/// sequence), and what hides brackets and indentation — quoted scalars, plain scalars
/// (which may hold `[`, `'` or `#` and run over several lines), block scalars (`|`, `>`)
/// and comments. Aliases count as deep as the node they repeat. A mapping found only at its
/// key's `:` is counted around the key already read.
///
/// Where it cannot tell, it counts: the depth it finds is never below what Yams would build
/// for the part of the text libyaml accepts, and may be a little above it (an alias counts
/// one level deeper than written).
struct YAMLNestingScan {
    /// The 1-based line and column (in Unicode scalars) where `text` first nests deeper
    /// than `limit`, or nil if it never does.
    static func firstExcess(in text: String, limit: Int) -> (line: Int, column: Int)? {
        var scan = YAMLNestingScan(bytes: Array(text.utf8), limit: limit)
        scan.run()
        return scan.excess
    }

    /// The deepest nesting found in `text` (0 for a scalar or nothing).
    static func depth(of text: String) -> Int {
        var scan = YAMLNestingScan(bytes: Array(text.utf8), limit: .max)
        scan.run()
        return scan.deepest
    }

    private enum Kind {
        case blockMapping, blockSequence, indentlessSequence, flowSequence, flowMapping
        /// The one-pair mapping of a `key: value` entry of a flow sequence.
        case flowPair

        var isFlow: Bool {
            switch self {
            case .blockMapping, .blockSequence, .indentlessSequence: false
            case .flowSequence, .flowMapping, .flowPair: true
            }
        }
    }

    private struct Level {
        var column: Int
        var kind: Kind
        /// The deepest depth reached inside it.
        var deepest: Int
        /// The same for its current entry (for a flow collection: since its bracket or last
        /// `,`), so that a mapping found at a `:` can count around its key.
        var entryDeepest: Int

        mutating func reached(_ depth: Int) {
            deepest = max(deepest, depth)
            entryDeepest = max(entryDeepest, depth)
        }
    }

    /// What a line break does not end.
    private enum Pending: Equatable {
        case none
        /// A plain scalar in block context: more-indented lines continue it.
        case plain(threshold: Int)
        /// A plain scalar in a flow collection: it goes on after the break.
        case flowPlain
        /// The content of a block scalar: blank lines and lines indented at least `indent`
        /// (known from an indentation indicator, or else from the first line that is not
        /// blank); `parent` is the enclosing collection's column.
        case blockScalar(parent: Int, indent: Int?, blankIndent: Int)
        /// A quoted scalar (`'` or `"`) not closed yet.
        case quote(UInt8)
    }

    /// An anchor whose node is still being read: how deep that node goes is known when it
    /// ends (a sibling or an outer node starts).
    private struct OpenAnchor {
        var name: String
        var base: Int
        var deepest: Int
        var sawNode: Bool
    }

    /// Anchors open at once beyond this are closed as if as deep as the limit allows.
    private static let openAnchorCap = 256

    private let bytes: [UInt8]
    private let limit: Int
    private var position = 0
    private var line = 1
    private var lineStart = 0
    private var levels: [Level] = []
    private var flowDepth = 0
    private var pending = Pending.none
    /// The column of the node being read in block context (its first property or
    /// character), which becomes a mapping's column when a `:` follows it.
    private var nodeColumn: Int?
    /// How deep the flow collection that just closed in block context went, in case a `:`
    /// makes it a key (and so puts it inside a new mapping).
    private var closedFlowDeepest: Int?
    private var anchorDepths: [String: Int] = [:]
    private var openAnchors: [OpenAnchor] = []
    private var deepest = 0
    private var excess: (line: Int, column: Int)?

    private init(bytes: [UInt8], limit: Int) {
        self.bytes = bytes
        self.limit = limit
    }

    // MARK: Lines

    private mutating func run() {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            position = 3
            lineStart = 3
        }
        while position < bytes.count, excess == nil {
            let (end, next) = lineEnd(from: position)
            scanLine(from: position, end: end)
            position = next
            line += 1
            lineStart = next
        }
    }

    /// The index of the line break at or after `start` (or the end), and of the next line.
    private func lineEnd(from start: Int) -> (end: Int, next: Int) {
        var i = start
        while i < bytes.count {
            switch bytes[i] {
            case 0x0A: return (i, i + 1)
            case 0x0D: return (i, i + 1 < bytes.count && bytes[i + 1] == 0x0A ? i + 2 : i + 1)
            case 0xC2 where byte(i + 1) == 0x85: return (i, i + 2)  // NEL
            case 0xE2 where byte(i + 1) == 0x80 && (byte(i + 2) == 0xA8 || byte(i + 2) == 0xA9): return (i, i + 3)  // LS, PS
            default: i += 1
            }
        }
        return (i, i)
    }

    private mutating func scanLine(from start: Int, end: Int) {
        var p = start
        if isDocumentMarker(at: p, end: end) {
            // A new document: libyaml starts over (and Yams reads no second document).
            levels.removeAll()
            flowDepth = 0
            pending = .none
            anchorDepths.removeAll()
            openAnchors.removeAll()
            guard bytes[p] == UInt8(ascii: "-") else { return }
            nodeColumn = nil
            scanBlock(from: p + 3, end: end)
            return
        }
        switch pending {
        case let .quote(quote):
            p = scanQuoted(quote, from: p, end: end)
            if pending != .none { return }
            continueLine(from: p, end: end)
            return
        case let .blockScalar(parent, indent, blankIndent):
            let first = skipSpaces(from: p, end: end)
            let column = first - p
            if isBlankLine(from: first, end: end) {
                if indent == nil { pending = .blockScalar(parent: parent, indent: nil, blankIndent: max(blankIndent, column)) }
                return
            }
            // libyaml's rule: at least one column right of the parent, and of column 0, and
            // as indented as the leading blank lines.
            let required = indent ?? max(column, blankIndent, parent + 1, 1)
            if column >= required {
                pending = .blockScalar(parent: parent, indent: required, blankIndent: blankIndent)
                return
            }
            pending = .none
        case let .plain(threshold):
            let first = skipSpaces(from: p, end: end)
            if isBlankLine(from: first, end: end) { return }
            if bytes[first] == UInt8(ascii: "#") {
                pending = .none
                return
            }
            if first - p > threshold {
                pending = .none
                nodeColumn = first - lineStart
                scanBlock(from: first, end: end, inPlain: true)
                return
            }
            pending = .none
        case .flowPlain, .none:
            break
        }
        if flowDepth > 0 {
            continueLine(from: p, end: end)
            return
        }
        if bytes[p] == UInt8(ascii: "%") { return }  // a directive
        let first = skipSpaces(from: p, end: end)
        if first == end || bytes[first] == UInt8(ascii: "#") { return }  // blank or comment
        unroll(toColumn: first - lineStart)
        nodeColumn = nil
        closedFlowDeepest = nil
        scanBlock(from: first, end: end)
    }

    /// Goes on from `p`, in flow context while a flow collection is open, then in block context.
    private mutating func continueLine(from p: Int, end: Int) {
        var p = p
        if flowDepth > 0 {
            p = scanFlow(from: p, end: end)
            if flowDepth > 0 || pending != .none { return }
        }
        scanBlock(from: p, end: end)
    }

    // MARK: Block context

    private mutating func scanBlock(from start: Int, end: Int, inPlain: Bool = false) {
        var p = start
        if inPlain {
            p = scanBlockPlain(from: p, end: end)
        }
        while p < end, excess == nil, pending == .none {
            let c = bytes[p]
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") {
                p += 1
                continue
            }
            if c == UInt8(ascii: "#") { return }  // a comment (at the start of a token, no blank needed)
            let column = p - lineStart
            if c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":"), isBlankOrEnd(p + 1, end: end) {
                let kind: Kind = c == UInt8(ascii: "-") ? .blockSequence : .blockMapping
                // A key's mapping is at the key's column, where a `:` ends it.
                let start = c == UInt8(ascii: ":") ? (nodeColumn ?? column) : column
                let pushed = openBlock(column: start, kind: kind, at: lineStart + start)
                if pushed, c == UInt8(ascii: ":"), let key = closedFlowDeepest {
                    reached(Self.oneDeeper(key), at: lineStart + start)
                }
                closedFlowDeepest = nil
                entryStarts()
                nodeColumn = nil
                p += 1
                continue
            }
            if nodeColumn == nil { nodeColumn = column }
            switch c {
            case UInt8(ascii: "&"):
                p = anchor(from: p + 1, end: end)
            case UInt8(ascii: "!"):
                p = skipTag(from: p + 1, end: end, inFlow: false)
            case UInt8(ascii: "*"):
                nodeStarts()
                p = alias(from: p + 1, end: end)
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                nodeStarts()
                push(c == UInt8(ascii: "[") ? .flowSequence : .flowMapping, column: column, at: p)
                p = scanFlow(from: p + 1, end: end)
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                nodeStarts()
                p = scanQuoted(c, from: p + 1, end: end)
            case UInt8(ascii: "|"), UInt8(ascii: ">"):
                nodeStarts()
                blockScalarHeader(from: p + 1, end: end)
                return
            case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ","):
                p += 1  // out of place in block context: libyaml stops there
            default:
                nodeStarts()
                p = scanBlockPlain(from: p, end: end)
            }
        }
    }

    /// A plain scalar in block context from `p`: ends before `: ` (its key's value follows)
    /// or at ` #`; reaching the line's end, it may go on over more-indented lines.
    private mutating func scanBlockPlain(from start: Int, end: Int) -> Int {
        var p = start
        while p < end {
            let c = bytes[p]
            if c == UInt8(ascii: ":"), isBlankOrEnd(p + 1, end: end) { return p }
            if c == UInt8(ascii: "#"), p > start, isBlank(p - 1) { return end }
            p += 1
        }
        pending = .plain(threshold: blockColumn)
        return end
    }

    /// After `|` or `>`: the content that follows is pending. An indentation indicator
    /// (`|2`) fixes its indentation relative to the enclosing collection.
    private mutating func blockScalarHeader(from start: Int, end: Int) {
        let parent = blockColumn
        var indent: Int?
        var p = start
        while p < end, !isBlank(p) {
            let c = bytes[p]
            if c >= UInt8(ascii: "1"), c <= UInt8(ascii: "9"), indent == nil {
                let digit = Int(c - UInt8(ascii: "0"))
                indent = parent >= 0 ? parent + digit : digit
            }
            p += 1
        }
        pending = .blockScalar(parent: parent, indent: indent, blankIndent: 0)
    }

    /// The column of the innermost block collection (libyaml's `indent`), -1 at the top.
    private var blockColumn: Int {
        levels.last(where: { !$0.kind.isFlow })?.column ?? -1
    }

    /// A key or an entry at `column`: a new collection if it is deeper than the current one
    /// (or a sequence given as a mapping's value at the mapping's column). Whether it
    /// started a collection.
    @discardableResult
    private mutating func openBlock(column: Int, kind: Kind, at p: Int) -> Bool {
        guard let top = levels.last, top.column >= column else {
            push(kind, column: column, at: p)
            return true
        }
        if top.column == column {
            switch (top.kind, kind) {
            case (.blockMapping, .blockSequence):
                push(.indentlessSequence, column: column, at: p)
                return true
            case (.indentlessSequence, .blockMapping):
                pop()
            default:
                break
            }
        }
        return false
    }

    /// Closes the block collections more indented than a line starting at `column`.
    private mutating func unroll(toColumn column: Int) {
        while let top = levels.last, top.column > column {
            pop()
        }
    }

    // MARK: Flow context

    /// Reads flow context from `p` until the outermost flow collection closes (returning
    /// the index after its bracket) or the line ends.
    private mutating func scanFlow(from start: Int, end: Int) -> Int {
        var p = start
        var inPlain = pending == .flowPlain
        pending = .none
        var afterBlank = p == lineStart
        while p < end, excess == nil {
            let c = bytes[p]
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") {
                p += 1
                afterBlank = true
                continue
            }
            if inPlain {
                // A plain scalar ends at a flow indicator, at `:` before a blank or a flow
                // indicator, and at ` #`; anything else (quotes too) is its text.
                let ends = isFlowIndicator(c) || (c == UInt8(ascii: "#") && afterBlank)
                    || (c == UInt8(ascii: ":") && (isBlankOrEnd(p + 1, end: end) || isFlowIndicator(byte(p + 1))))
                afterBlank = false
                guard ends else {
                    p += 1
                    continue
                }
                inPlain = false
            }
            afterBlank = false
            switch c {
            case UInt8(ascii: "#"):
                p = end  // a comment (at the start of a token, no blank needed)
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                nodeStarts()
                push(c == UInt8(ascii: "[") ? .flowSequence : .flowMapping, column: p - lineStart, at: p)
                p += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if levels.last?.kind == .flowPair { pop() }
                if let top = levels.last, top.kind.isFlow {
                    pop()
                    if flowDepth == 0 { closedFlowDeepest = top.deepest }
                }
                p += 1
                if flowDepth == 0 { return p }
            case UInt8(ascii: ","):
                if levels.last?.kind == .flowPair { pop() }
                entryStarts()
                if !levels.isEmpty { levels[levels.count - 1].entryDeepest = levels.count }
                p += 1
            case UInt8(ascii: "?"), UInt8(ascii: ":"):
                // In a flow sequence, `key: value` (or `? key`) is a one-pair mapping around
                // the key already read.
                if let top = levels.last, top.kind == .flowSequence {
                    push(.flowPair, column: p - lineStart, at: p)
                    reached(Self.oneDeeper(top.entryDeepest), at: p)
                }
                p += 1
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                nodeStarts()
                p = scanQuoted(c, from: p + 1, end: end)
                if pending != .none { return end }
            case UInt8(ascii: "&"):
                p = anchor(from: p + 1, end: end)
            case UInt8(ascii: "!"):
                p = skipTag(from: p + 1, end: end, inFlow: true)
            case UInt8(ascii: "*"):
                nodeStarts()
                p = alias(from: p + 1, end: end)
            default:
                nodeStarts()
                inPlain = true
                p += 1
            }
        }
        if inPlain { pending = .flowPlain }
        return end
    }

    private func isFlowIndicator(_ c: UInt8?) -> Bool {
        c == UInt8(ascii: ",") || c == UInt8(ascii: "[") || c == UInt8(ascii: "]")
            || c == UInt8(ascii: "{") || c == UInt8(ascii: "}")
    }

    // MARK: Scalars, tags, anchors, aliases

    /// After the opening quote: the index after the closing one, or the line's end with the
    /// quote pending. `''` is a quote inside single quotes; `\` escapes inside double ones.
    private mutating func scanQuoted(_ quote: UInt8, from start: Int, end: Int) -> Int {
        var p = start
        while p < end {
            let c = bytes[p]
            if quote == UInt8(ascii: "\""), c == UInt8(ascii: "\\") {
                p += 2
                continue
            }
            if c == quote {
                if quote == UInt8(ascii: "'"), byte(p + 1) == quote {
                    p += 2
                    continue
                }
                pending = .none
                return p + 1
            }
            p += 1
        }
        pending = .quote(quote)
        return end
    }

    /// A tag (`!name`, `!!str`, `!<verbatim>`) after its `!`: skipped.
    private func skipTag(from start: Int, end: Int, inFlow: Bool) -> Int {
        var p = start
        if byte(p) == UInt8(ascii: "<") {
            while p < end, bytes[p] != UInt8(ascii: ">") { p += 1 }
            return min(p + 1, end)
        }
        while p < end, !isBlank(p), !(inFlow && bytes[p] == UInt8(ascii: ",")) { p += 1 }
        return p
    }

    /// An anchor's name (libyaml's: letters, digits, `-`, `_`) from `start` and where it ends.
    private func name(from start: Int, end: Int) -> (String, Int) {
        var p = start
        while p < end, isNameByte(bytes[p]) { p += 1 }
        return (String(decoding: bytes[start..<p], as: UTF8.self), p)
    }

    private func isNameByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }

    private mutating func anchor(from start: Int, end: Int) -> Int {
        let (name, after) = name(from: start, end: end)
        if openAnchors.count == Self.openAnchorCap {
            let oldest = openAnchors.removeFirst()
            anchorDepths[oldest.name] = limit
        }
        openAnchors.append(OpenAnchor(name: name, base: levels.count, deepest: levels.count, sawNode: false))
        return after
    }

    /// An alias repeats its anchor's node here: as deep as that node, one level further in
    /// (the alias may be a key whose mapping is not counted yet).
    private mutating func alias(from start: Int, end: Int) -> Int {
        let (name, after) = name(from: start, end: end)
        let (depth, overflow) = (levels.count + 1).addingReportingOverflow(anchorDepths[name] ?? 0)
        reached(overflow ? .max : depth, at: start - 1)
        return after
    }

    // MARK: Depth

    private mutating func push(_ kind: Kind, column: Int, at p: Int) {
        levels.append(Level(column: column, kind: kind, deepest: levels.count + 1, entryDeepest: levels.count + 1))
        if kind.isFlow { flowDepth += 1 }
        reached(levels.count, at: p)
    }

    /// Closes the innermost collection; what it reached counts for its parent's entry.
    private mutating func pop() {
        let level = levels.removeLast()
        if level.kind.isFlow { flowDepth -= 1 }
        if !levels.isEmpty {
            levels[levels.count - 1].reached(level.deepest)
        }
        closeAnchors(deeperThan: levels.count)
    }

    /// `depth + 1`, saturating (an alias of a forcibly closed anchor counts as `.max`).
    private static func oneDeeper(_ depth: Int) -> Int {
        depth == .max ? .max : depth + 1
    }

    private mutating func reached(_ depth: Int, at p: Int) {
        if !levels.isEmpty {
            levels[levels.count - 1].reached(depth)
        }
        for index in openAnchors.indices where openAnchors[index].deepest < depth {
            openAnchors[index].deepest = depth
        }
        deepest = max(deepest, depth)
        if depth > limit, excess == nil {
            let column = bytes[lineStart..<max(lineStart, min(p, bytes.count))]
            excess = (line, String(decoding: column, as: UTF8.self).unicodeScalars.count + 1)
        }
    }

    /// A node (scalar, alias, or flow collection) starts at the current depth: it is the node
    /// of anchors written just before it, and a sibling that ends the nodes of earlier ones.
    private mutating func nodeStarts() {
        closedFlowDeepest = nil
        let depth = levels.count
        var index = openAnchors.count - 1
        while index >= 0 {
            if !openAnchors[index].sawNode {
                openAnchors[index].sawNode = true
            } else if depth <= openAnchors[index].base {
                close(index)
            }
            index -= 1
        }
    }

    /// An entry (`-`, `?`, `:`, `,`) starts in the current collection: the nodes of anchors
    /// written in it before are complete.
    private mutating func entryStarts() {
        closeAnchors(deeperThan: levels.count - 1)
    }

    private mutating func closeAnchors(deeperThan depth: Int) {
        var index = openAnchors.count - 1
        while index >= 0 {
            if openAnchors[index].base > depth { close(index) }
            index -= 1
        }
    }

    private mutating func close(_ index: Int) {
        let anchor = openAnchors.remove(at: index)
        anchorDepths[anchor.name] = anchor.deepest - anchor.base
    }

    // MARK: Bytes

    private func byte(_ i: Int) -> UInt8? {
        i < bytes.count ? bytes[i] : nil
    }

    private func isBlank(_ i: Int) -> Bool {
        let c = bytes[i]
        return c == UInt8(ascii: " ") || c == UInt8(ascii: "\t")
    }

    private func isBlankOrEnd(_ i: Int, end: Int) -> Bool {
        i >= end || isBlank(i)
    }

    private func skipSpaces(from start: Int, end: Int) -> Int {
        var p = start
        while p < end, bytes[p] == UInt8(ascii: " ") { p += 1 }
        return p
    }

    private func isBlankLine(from start: Int, end: Int) -> Bool {
        bytes[start..<end].allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    }

    /// `---` or `...` at the start of a line, followed by a blank or the line's end.
    private func isDocumentMarker(at p: Int, end: Int) -> Bool {
        guard p == lineStart, p + 3 <= end else { return false }
        let c = bytes[p]
        guard c == UInt8(ascii: "-") || c == UInt8(ascii: ".") else { return false }
        return bytes[p + 1] == c && bytes[p + 2] == c && isBlankOrEnd(p + 3, end: end)
    }
}

@testable import ConfigFile
import PropertyBased
import Testing
import Yams

@Suite("YAMLNestingScan")
struct YAMLNestingScanTests {
    @Test("counts what nests, as deep as Yams builds it", arguments: [
        ("", 0),
        ("a: 1", 1),
        ("a:\n  b: 1\nc: 2", 2),
        ("- [a, {b: c}]", 3),
        ("- - - x", 3),
        ("a:\n- b:\n  - c", 4),
        ("a: [\n  [1,\n   2],\n  3]\nb: 1", 3),
        ("? [a]\n: {b: 1}", 2),
        ("--- [1]\n--- [[2]]", 2),
    ])
    func depths(text: String, depth: Int) throws {
        #expect(YAMLNestingScan.depth(of: text) == depth)
        #expect((try? Yams.compose(yaml: text))??.depth ?? 0 <= depth)
    }

    @Test("brackets inside scalars, comments and block scalars are text", arguments: [
        "a: 'x [[[ ''{'' '",
        "a: \"x [[[ \\\" {{{\"",
        "a: \"x\n  [[[ {{{\"",
        "a: x [[[ {{{ 'quote",
        "a: first line\n  [[[ second line 'of the same scalar",
        "a: |\n  [[[\n  {{{\n\n  ]]\nb: 1",
        "a: >-\n    [[[\n   \n    {{{\nb: 1",
        "# [[[ {{{\na: 1 # [[[",
        "a: [x y 'z, w]",
        "a: {k:'v', w: 1}",
    ])
    func hiddenBrackets(text: String) throws {
        #expect(YAMLNestingScan.depth(of: text) <= 2)
        #expect(try Yams.compose(yaml: text) != nil)
    }

    @Test("an alias is as deep as the node it repeats")
    func aliases() throws {
        let text = "a: &x [[1]]\nb: [*x]\nc: &y {k: *x}\nd: [*y]"
        let actual = try #require(try Yams.compose(yaml: text)).depth
        #expect(actual == 5)
        #expect(YAMLNestingScan.depth(of: text) >= actual)
        #expect(YAMLNestingScan.depth(of: HostileYAML.aliasChain.document(depth: 40)) >= 40)
    }

    @Test("the first place deeper than the limit, as line and column", arguments: [
        ("[[[x]]]", 2, 1, 3),
        ("a:\n  b:\n    c: 1", 2, 3, 5),
        ("a: [é, [[1]]]", 2, 1, 8),
        ("- - - x", 2, 1, 5),
    ])
    func excess(text: String, limit: Int, line: Int, column: Int) {
        let found = YAMLNestingScan.firstExcess(in: text, limit: limit)
        #expect(found?.line == line)
        #expect(found?.column == column)
        #expect(YAMLNestingScan.firstExcess(in: text, limit: YAMLNestingScan.depth(of: text)) == nil)
    }

    @Test("every way of nesting 5,000 deep is found, in linear time", arguments: HostileYAML.allCases)
    func deepDocuments(style: HostileYAML) {
        #expect(YAMLNestingScan.depth(of: style.document(depth: 5_000)) >= 5_000)
        #expect(YAMLNestingScan.firstExcess(in: style.document(depth: 5_000), limit: 64) != nil)
    }

    /// The property the bound rests on: for any text libyaml accepts, Yams builds nothing
    /// deeper than the scan found.
    @Test func neverBelowWhatYamsBuilds() async {
        await propertyCheck(
            count: 3_000,
            input: Gen.int(in: 0...3), Gen.int(in: 0...400), GeneratedYAML.shallowParts
        ) { base, offset, parts in
            let bases = [""] + Reader.allCases.map(\.validDocument)
            let text = GeneratedYAML.document(base: bases[base], offset: offset, parts: parts)
            let unbounded = YAMLLimits(maximumBytes: .max, maximumDepth: .max)
            guard let node = try? YAMLText.compose(text, limits: unbounded) else { return }
            #expect(YAMLNestingScan.depth(of: text) >= node.depth, "\(text.debugDescription)")
        }
    }

    /// The same, for valid documents of random shape in every style.
    @Test func neverBelowWhatYamsBuildsFromRenderedDocuments() async {
        await propertyCheck(count: 5_000, input: RenderedYAML.choices) { choices in
            let text = RenderedYAML.document(choices)
            let unbounded = YAMLLimits(maximumBytes: .max, maximumDepth: .max)
            guard let node = try? YAMLText.compose(text, limits: unbounded) else { return }
            #expect(YAMLNestingScan.depth(of: text) >= node.depth, "\(text.debugDescription)")
        }
    }
}

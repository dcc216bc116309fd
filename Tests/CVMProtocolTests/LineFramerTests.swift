import CVMProtocol
import Testing

@Suite struct LineFramerTests {
    @Test func yieldsCompleteLinesAcrossArbitraryChunks() {
        let stream = Array("one\ntwo\n\nthree\nfour".utf8)
        for chunkSize in 1...stream.count {
            var framer = LineFramer()
            var events: [LineFramer.Event] = []
            var index = 0
            while index < stream.count {
                let end = min(index + chunkSize, stream.count)
                events += framer.feed(stream[index..<end])
                index = end
            }
            #expect(events == [.line(Array("one".utf8)), .line(Array("two".utf8)), .line([]),
                               .line(Array("three".utf8))], "chunk size \(chunkSize)")
            #expect(framer.bufferedByteCount == 4)  // "four" waits for its newline
        }
    }

    @Test func discardsAndReportsOverlongLinesThenRecovers() {
        var framer = LineFramer(maxLineLength: 8)
        var events = framer.feed(Array("12345678\n".utf8))  // exactly the limit: kept
        #expect(events == [.line(Array("12345678".utf8))])

        events = framer.feed(Array("123456789abc".utf8))
        #expect(events.isEmpty)
        #expect(framer.isDiscarding)
        #expect(framer.bufferedByteCount == 0)
        events = framer.feed(Array("def\nok\n".utf8))
        #expect(events == [.overlong(byteCount: 15), .line(Array("ok".utf8))])
        #expect(!framer.isDiscarding)
    }

    @Test func memoryStaysBoundedOnEndlessInput() {
        var framer = LineFramer(maxLineLength: 16)
        for _ in 0..<1000 { _ = framer.feed([UInt8](repeating: 0x41, count: 100)) }
        #expect(framer.bufferedByteCount == 0)
        #expect(framer.feed([0x0a]) == [.overlong(byteCount: 100_000)])
    }

    @Test func resetDropsAPartialLine() {
        var framer = LineFramer()
        _ = framer.feed(Array("half a li".utf8))
        framer.reset()
        #expect(framer.feed(Array("ne\n".utf8)) == [.line(Array("ne".utf8))])
    }
}

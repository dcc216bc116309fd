import Orchestrator
import Testing

@Suite struct ConsoleTextTests {
    @Test("a guest's console bytes are shown, never obeyed: escapes and control characters become ^X, text and UTF-8 stay")
    func hostileBytesAreNeutralized() {
        let hostile: [UInt8] = Array("ok é\t1\r\n".utf8) + [0x1B] + Array("]0;pwned\u{07}".utf8) + [0x1B] + Array("[2J".utf8)
            + [0x00, 0x7F, 0xC2, 0x9B] + Array("31m".utf8) + [0xFF, 0xFE] + Array("\n".utf8)
        let shown = CVMConsole.printable(hostile)
        #expect(shown == "ok é\t1\n^[]0;pwned^G^[[2J^@^?\\u{9b}31m\u{FFFD}\u{FFFD}\n")
        #expect(!shown.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F..<0xA0).contains($0.value) })
    }
}

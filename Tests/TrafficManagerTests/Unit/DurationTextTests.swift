import Testing
@testable import TrafficManager

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("2s", .seconds(2)), ("1.5s", .milliseconds(1500)), ("1m", .seconds(60)),
        ("1h", .seconds(3600)), ("3", .seconds(3)), ("0.25", .milliseconds(250)), ("0ms", .zero),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "s", "-1s", "1.s", ".5s", "1e3", "2 days", "1.0000001s", "abc"])
    func rejects(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [(Duration.milliseconds(250), "250ms"), (.seconds(2), "2s"), (.milliseconds(1500), "1.5s"), (.milliseconds(1050), "1.05s")])
    func formats(_ duration: Duration, _ text: String) {
        #expect(DurationText.format(duration) == text)
        #expect(DurationText.parse(text) == duration)
    }
}

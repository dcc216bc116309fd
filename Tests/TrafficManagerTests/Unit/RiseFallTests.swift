import Testing
@testable import TrafficManager

@Suite struct RiseFallTests {
    @Test("fall consecutive failures take it down; a success in between resets the count")
    func fall() {
        var state = RiseFall(rise: 2, fall: 3)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: true) == nil)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: false) == false)
        #expect(!state.isUp)
    }

    @Test("rise consecutive successes bring it up")
    func rise() {
        var state = RiseFall(rise: 2, fall: 1, isUp: false)
        #expect(state.record(success: true) == nil)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: true) == nil)
        #expect(state.record(success: true) == true)
        #expect(state.record(success: true) == nil, "no flip while it stays up")
        #expect(state.record(success: false) == false)
    }
}

import Testing
@testable import TrafficManager

@Suite struct BalancerTests {
    @Test("smooth weighted round robin: proportional and interleaved (5:1:1 gives a a b a c a a)")
    func smoothWeighted() {
        var balancer = Balancer(method: .roundrobin, weights: [5, 1, 1])
        let picks = (0..<7).compactMap { _ in balancer.pick(isUp: { _ in true }) }
        #expect(picks == [0, 0, 1, 0, 2, 0, 0])
        let many = (0..<700).compactMap { _ in balancer.pick(isUp: { _ in true }) }
        #expect(many.filter { $0 == 0 }.count == 500)
        #expect(many.filter { $0 == 1 }.count == 100)
    }

    @Test("only services that are up and not yet tried are picked")
    func skipsDownAndTried() {
        for method in [VServerConfig.Method.roundrobin, .leastconn] {
            var balancer = Balancer(method: method, weights: [1, 1, 1])
            let picks = (0..<10).compactMap { _ in balancer.pick(isUp: { $0 != 1 }) }
            #expect(!picks.contains(1))
            var tried = ServiceSet()
            tried.insert(0)
            tried.insert(2)
            #expect(balancer.pick(isUp: { $0 != 1 }, excluding: tried) == nil)
            #expect(balancer.pick(isUp: { _ in false }) == nil)
        }
    }

    @Test("least connections per weight; ties rotate")
    func leastConnections() {
        var balancer = Balancer(method: .leastconn, weights: [1, 3])
        var counts = [0, 0]
        for _ in 0..<8 {
            let index = balancer.pick(isUp: { _ in true })!
            balancer.opened(index)
            counts[index] += 1
        }
        #expect(counts == [2, 6])
        balancer.closed(1)
        balancer.closed(1)
        balancer.closed(1)
        #expect(balancer.pick(isUp: { _ in true }) == 1, "1 has 3/3 per weight against 2/1")
        var even = Balancer(method: .leastconn, weights: [1, 1, 1])
        #expect((0..<3).compactMap { _ in even.pick(isUp: { _ in true }) } == [0, 1, 2])
    }

    @Test("least connections compares the counts it is given (every core's), not its own")
    func leastConnectionsOverEveryCore() {
        var balancer = Balancer(method: .leastconn, weights: [1, 1])
        // This core opened 3 to service 0; the other cores hold 10 on service 0 and 2 on 1.
        for _ in 0..<3 { balancer.opened(0) }
        let everyCore = [13, 2]
        #expect(balancer.pick(isUp: { _ in true }, openConnections: { everyCore[$0] }) == 1)
        #expect(balancer.pick(isUp: { _ in true }) == 1, "by its own counts 0 has 3, 1 has 0")
        let reversed = [1, 5]
        #expect(balancer.pick(isUp: { _ in true }, openConnections: { reversed[$0] }) == 0,
                "its own counts (3 on 0) must not matter")
    }
}

package import Foundation
import Orchestrator
import Prometheus
import Synchronization

/// What `GET /metrics` of `cvmctl serve` exposes (Prometheus text, base units, HELP on every
/// metric): the CVMs by state and host and each one's heartbeat age (read from the store at
/// each scrape), the API's requests and their durations, and the long operations with their
/// durations.
final class DaemonMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// The label sets set at the last scrape, to zero those that are gone.
    private let seenStates = Mutex<Set<[String]>>([])
    private let seenAges = Mutex<[String: Gauge]>([:])

    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
        .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300),
    ]

    private static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "cvmctl", metricName: name, unitName: unit, helpText: help)
    }

    /// One API request answered: by method, the document's path template (`other` for a
    /// path it does not have) and status.
    func request(method: String, route: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: Self.descriptor("api_requests", "total", "API requests answered, by method, route and status."),
                             labels: [("method", method), ("route", route), ("status", String(status))]).increment()
        registry.makeDurationHistogram(
            descriptor: Self.descriptor("api_request_duration", "seconds", "Time to answer an API request (to its first byte for a stream), by route."),
            labels: [("route", route)], buckets: Self.durationBuckets
        ).record(duration)
    }

    /// A long operation ended (`state`: succeeded, failed, cancelled).
    func operationEnded(kind: String, state: String, duration: Duration) {
        registry.makeCounter(descriptor: Self.descriptor("operations", "total", "Long operations started through the API that ended, by kind and final state."),
                             labels: [("kind", kind), ("state", state)]).increment()
        registry.makeDurationHistogram(
            descriptor: Self.descriptor("operation_duration", "seconds",
                                        "Duration of the long operations (a deploy: to the first heartbeat), by kind and final state."),
            labels: [("kind", kind), ("state", state)], buckets: Self.durationBuckets
        ).record(duration)
    }

    /// The store's CVMs as gauges: how many per state and host, and each one's heartbeat age.
    func refresh(cvms: [CVMRecord], now: Date) {
        var counts: [[String]: Int] = [:]
        for cvm in cvms { counts[[cvm.state.rawValue, cvm.host], default: 0] += 1 }
        let byState = Self.descriptor("cvms", "", "CVMs in the store, by state and host.")
        let gone = seenStates.withLock { seen -> Set<[String]> in
            defer { seen = Set(counts.keys) }
            return seen.subtracting(counts.keys)
        }
        for labels in gone { registry.makeGauge(descriptor: byState, labels: [("state", labels[0]), ("host", labels[1])]).set(to: 0) }
        for (labels, count) in counts {
            registry.makeGauge(descriptor: byState, labels: [("state", labels[0]), ("host", labels[1])]).set(to: Double(count))
        }
        let age = Self.descriptor("cvm_heartbeat_age", "seconds", "Seconds since each running CVM's last authenticated heartbeat.")
        let current = Dictionary(cvms.compactMap { cvm in cvm.lastHeartbeatAt.map { (cvm.name, max(0, now.timeIntervalSince($0))) } },
                                 uniquingKeysWith: { a, _ in a })
        seenAges.withLock { seen in
            for (name, gauge) in seen where current[name] == nil {
                registry.unregisterGauge(gauge)
                seen[name] = nil
            }
            for (name, value) in current {
                let gauge = seen[name] ?? registry.makeGauge(descriptor: age, labels: [("cvm", name)])
                gauge.set(to: value)
                seen[name] = gauge
            }
        }
    }

    func text() -> String { registry.emitToString() }
}

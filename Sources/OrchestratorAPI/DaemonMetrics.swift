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

    /// Deploy and migration results already observed, by CVM id (so each is counted once).
    private let observed = Mutex<[String: [Int?]]>([:])
    private let seenHosts = Mutex<Set<String>>([])
    private let counted = Mutex<[String: Int]>([:])
    private let longBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(20),
        .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]
    private let pauseBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
    ]

    /// Deploy and migration durations and migration pauses, as the store's records carry them
    /// (each CVM's deploy time, and its last migration's total and pause): a result not seen
    /// before is observed once. A CVM migrated twice between two scrapes counts its last
    /// migration only.
    func observeResults(cvms: [CVMRecord]) {
        let fresh = observed.withLock { seen -> [(CVMRecord, deploy: Bool, migration: Bool)] in
            var fresh: [(CVMRecord, deploy: Bool, migration: Bool)] = []
            for cvm in cvms {
                let now = [cvm.deployMs, cvm.lastMigrationTotalMs, cvm.lastMigrationPauseMs]
                let before = seen[cvm.id]
                seen[cvm.id] = now
                let deploy = cvm.deployMs != nil && before?[0] == nil
                let migration = cvm.lastMigrationTotalMs != nil && (before.map { $0[1] != now[1] || $0[2] != now[2] } ?? true)
                if deploy || migration { fresh.append((cvm, deploy, migration)) }
            }
            let present = Set(cvms.map(\.id))
            seen = seen.filter { present.contains($0.key) }
            return fresh
        }
        for (cvm, deploy, migration) in fresh {
            if deploy, let ms = cvm.deployMs {
                registry.makeDurationHistogram(
                    descriptor: Self.descriptor("deploy_duration", "seconds", "Deploy to first heartbeat of the CVMs in the store, each observed once."),
                    labels: [("host", cvm.host)], buckets: longBuckets).record(.milliseconds(ms))
            }
            if migration, let total = cvm.lastMigrationTotalMs {
                registry.makeDurationHistogram(
                    descriptor: Self.descriptor("migration_duration", "seconds", "Live migrations of the CVMs in the store, start to end, by destination host."),
                    labels: [("host", cvm.host)], buckets: longBuckets).record(.milliseconds(total))
                if let pause = cvm.lastMigrationPauseMs {
                    registry.makeDurationHistogram(
                        descriptor: Self.descriptor("migration_pause", "seconds", "How long each live migration paused the CVM (its downtime), by destination host."),
                        labels: [("host", cvm.host)], buckets: pauseBuckets).record(.milliseconds(pause))
                }
            }
        }
    }

    /// Each host's capacity, what the store places there and its measured CPU load.
    func refresh(hosts: [(name: String, cpus: Int, memoryMiB: Int, vcpus: Int, memoryUsedMiB: Int, load: Double?)]) {
        let gone = seenHosts.withLock { seen -> Set<String> in
            defer { seen = Set(hosts.map(\.name)) }
            return seen.subtracting(hosts.map(\.name))
        }
        let cpus = Self.descriptor("host_cpus", "", "CPUs of each host.")
        let memory = Self.descriptor("host_memory", "bytes", "Memory of each host.")
        let vcpus = Self.descriptor("host_allocated_vcpus", "", "vCPUs of the CVMs the store places on each host.")
        let used = Self.descriptor("host_allocated_memory", "bytes", "Memory of the CVMs the store places on each host.")
        let load = Self.descriptor("host_cpu_load", "ratio", "Each host's CPU busy share over the last sampling interval (libvirt's node CPU times), 0 to 1.")
        for name in gone {
            for descriptor in [cpus, memory, vcpus, used, load] { registry.makeGauge(descriptor: descriptor, labels: [("host", name)]).set(to: 0) }
        }
        for host in hosts {
            let labels = [("host", host.name)]
            registry.makeGauge(descriptor: cpus, labels: labels).set(to: Double(host.cpus))
            registry.makeGauge(descriptor: memory, labels: labels).set(to: Double(host.memoryMiB) * 1_048_576)
            registry.makeGauge(descriptor: vcpus, labels: labels).set(to: Double(host.vcpus))
            registry.makeGauge(descriptor: used, labels: labels).set(to: Double(host.memoryUsedMiB) * 1_048_576)
            if let value = host.load { registry.makeGauge(descriptor: load, labels: labels).set(to: value) }
        }
    }

    /// Elastic mode's decisions and actions, as the journal holds them (counters: the journal
    /// only grows): `elastic.decision`, `.recommend`, `.action` (started), `.done`, `.failed`,
    /// `.heal`, `.healed`.
    func refresh(elasticEvents counts: [String: Int]) {
        let decisions = Self.descriptor("elastic_decisions", "total", "Elastic mode's decisions (a task's verdict or CVM count changed; recommendations included), from the journal.")
        let actions = Self.descriptor("elastic_actions", "total", "Elastic mode's actions by outcome: started, done, failed; heal and healed for clusters; from the journal.")
        let series: [(String, MetricNameDescriptor, (String, String))] = [
            ("elastic.decision", decisions, ("kind", "decision")), ("elastic.recommend", decisions, ("kind", "recommend")),
            ("elastic.action", actions, ("outcome", "started")), ("elastic.done", actions, ("outcome", "done")),
            ("elastic.failed", actions, ("outcome", "failed")), ("elastic.heal", actions, ("outcome", "heal")),
            ("elastic.healed", actions, ("outcome", "healed")),
        ]
        // Counters go up by what the journal gained since the last scrape.
        let kinds = series.map(\.0)
        let deltas = counted.withLock { last -> [Int] in
            kinds.map { kind in
                let now = counts[kind] ?? 0
                defer { last[kind] = now }
                return max(0, now - (last[kind] ?? 0))
            }
        }
        for ((_, descriptor, label), delta) in zip(series, deltas) {
            registry.makeCounter(descriptor: descriptor, labels: [label]).increment(by: Int64(delta))
        }
    }

    func text() -> String { registry.emitToString() }
}

import CoreMetrics
import Metrics
import Prometheus
import Synchronization

/// Publishes usage reports and quota state as swift-metrics metrics backed by a Prometheus
/// registry of this traffic manager (no global `MetricsSystem` bootstrap, so several traffic
/// managers can live in one process); `/metrics` serves `text`.
final class MetricsExporter: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let state = Mutex(State())

    struct State {
        var counters: [String: CoreMetrics.Counter] = [:]
        var floatingCounters: [String: CoreMetrics.FloatingPointCounter] = [:]
        var meters: [String: CoreMetrics.Meter] = [:]
        /// Last totals published per counter key (counters only go up by deltas).
        var published: [String: Double] = [:]
    }

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The Prometheus text exposition of every metric.
    var text: String { registry.emitToString() }

    func record(_ report: UsageReport) {
        state.withLock { state in
            for task in report.tasks {
                let labels = [("task", task.name), ("kind", task.kind.rawValue), ("policy_task", task.task)]
                let totals = task.totals
                count(&state, "tms_task_connections_total", labels, Double(totals.connections))
                count(&state, "tms_task_bytes_in_total", labels, Double(totals.bytesIn))
                count(&state, "tms_task_bytes_out_total", labels, Double(totals.bytesOut))
                count(&state, "tms_task_spills_total", labels, Double(totals.spills))
                count(&state, "tms_task_refusals_total", labels, Double(totals.refusals))
                count(&state, "tms_task_connect_failures_total", labels, Double(totals.connectFailures))
                countFloating(&state, "tms_task_cpu_seconds_total", labels, totals.cpuSeconds)
                gauge(&state, "tms_task_active_connections", labels, Double(totals.activeConnections))
                for resource in UsageResource.allCases {
                    let key = resource.rawValue
                    let resourceLabels = labels + [("resource", key)]
                    if let pattern = task.patterns[key] {
                        gauge(&state, "tms_task_usage_rate", resourceLabels, pattern.rate)
                        gauge(&state, "tms_task_usage_moving_average", resourceLabels, pattern.movingAverage)
                        gauge(&state, "tms_task_usage_peak", resourceLabels, pattern.peak)
                        gauge(&state, "tms_task_usage_trend", resourceLabels, pattern.trend)
                    }
                    if let forecast = task.forecast[key] {
                        gauge(&state, "tms_task_usage_anticipated", resourceLabels, forecast.anticipated)
                    }
                }
            }
            gauge(&state, "tms_process_cpu_percent", [], report.process.cpuPercent)
            gauge(&state, "tms_process_resident_mebibytes", [], report.process.residentMiB)
            gauge(&state, "tms_config_generation", [], Double(report.generation))
        }
    }

    /// Quota and service health of the vServers in force.
    func record(_ status: StatusReport) {
        state.withLock { state in
            for vServer in status.vServers {
                let labels = [("vserver", vServer.name)]
                gauge(&state, "tms_vserver_limit", labels, Double(vServer.quota.limit))
                gauge(&state, "tms_vserver_in_use", labels, Double(vServer.quota.inUse))
                gauge(&state, "tms_vserver_shared_available", labels, Double(vServer.quota.sharedAvailable))
                for service in vServer.services {
                    gauge(&state, "tms_service_up", labels + [("service", service.name)], service.up ? 1 : 0)
                }
            }
            if let log = status.accessLog {
                count(&state, "tms_access_log_records_total", [], Double(log.records))
                count(&state, "tms_access_log_lost_records_total", [], Double(log.lost))
                if let spool = log.spool {
                    gauge(&state, "tms_access_log_spool_bytes", [], Double(spool.bytes))
                    gauge(&state, "tms_access_log_spool_high_water_bytes", [], Double(spool.highWaterBytes))
                    gauge(&state, "tms_access_log_spool_limit_bytes", [], Double(spool.maxBytes))
                    gauge(&state, "tms_access_log_unacknowledged_records", [], Double(spool.unacknowledged))
                    count(&state, "tms_access_log_spool_dropped_records_total", [], Double(spool.dropped))
                    gauge(&state, "tms_access_log_spool_full", [], spool.bytes + 4096 >= spool.maxBytes && spool.unacknowledged > 0 ? 1 : 0)
                }
                if let collector = log.collector {
                    gauge(&state, "tms_access_log_collector_connected", [], collector.connected ? 1 : 0)
                    gauge(&state, "tms_access_log_collector_refusing", [], collector.refusing == nil ? 0 : 1)
                    // The collector's summary: records per vServer and outcome, as it counts them.
                    for (vServer, outcomes) in collector.vServers.prefix(1000) {
                        for (outcome, count) in outcomes {
                            gauge(&state, "tms_access_log_collector_records", [("vserver", vServer), ("outcome", outcome)], Double(count))
                        }
                    }
                }
            }
        }
    }

    private func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + labels.map { "|\($0.0)=\($0.1)" }.joined()
    }

    private func count(_ state: inout State, _ name: String, _ labels: [(String, String)], _ total: Double) {
        let key = key(name, labels)
        let counter = state.counters[key] ?? CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        state.counters[key] = counter
        let delta = total - (state.published[key] ?? 0)
        if delta > 0 {
            counter.increment(by: Int64(delta))
            state.published[key] = total
        }
    }

    private func countFloating(_ state: inout State, _ name: String, _ labels: [(String, String)], _ total: Double) {
        let key = key(name, labels)
        let counter = state.floatingCounters[key] ?? CoreMetrics.FloatingPointCounter(label: name, dimensions: labels, factory: factory)
        state.floatingCounters[key] = counter
        let delta = total - (state.published[key] ?? 0)
        if delta > 0 {
            counter.increment(by: delta)
            state.published[key] = total
        }
    }

    private func gauge(_ state: inout State, _ name: String, _ labels: [(String, String)], _ value: Double) {
        let key = key(name, labels)
        let meter = state.meters[key] ?? CoreMetrics.Meter(label: name, dimensions: labels, factory: factory)
        state.meters[key] = meter
        meter.set(value)
    }
}

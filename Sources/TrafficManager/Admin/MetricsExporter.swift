/// What `/metrics` of the traffic manager serves (Prometheus text, base units, HELP on every
/// metric; `docs/metrics.md` lists them): the tasks' counters, usage patterns and forecasts,
/// the process, each vServer's quota, and each service's connections, bytes, health and
/// connect and first-byte time histograms.
///
/// Rendered when scraped, from the last usage sample, the status and the services' per-core
/// counters as they are then (rendering at every sample cost the process a few milliseconds of
/// CPU per second whether anyone scraped or not, on the data plane's cores).
struct MetricsExporter: Sendable {
    /// One service of a vServer in force (or draining).
    struct Service {
        var vServer: String
        var runtime: ServiceRuntime
    }

    /// The Prometheus text exposition.
    func render(report: UsageReport?, status: StatusReport, services: [Service]) -> String {
        var out = PrometheusText()
        if let report { tasks(report, into: &out) }
        vServers(status, services: services, into: &out)
        if let log = status.accessLog { accessLog(log, into: &out) }
        return out.text
    }

    private func tasks(_ report: UsageReport, into out: inout PrometheusText) {
        for task in report.tasks {
            let labels = [("task", task.name), ("kind", task.kind.rawValue), ("policy_task", task.task)]
            let totals = task.totals
            out.add("tms_task_connections_total", .counter,
                    "Connections accepted for the task (a monitor: probes started; the access log: records written; the session store: pins written).",
                    labels, Double(totals.connections))
            out.add("tms_task_active_connections", .gauge, "Connections of the task open now (the session store: pins held).",
                    labels, Double(totals.activeConnections))
            out.add("tms_task_received_bytes_total", .counter, "Bytes the task read from clients (a monitor: from the services it probes).",
                    labels, Double(totals.bytesIn))
            out.add("tms_task_sent_bytes_total", .counter, "Bytes the task relayed from services to clients (a monitor: probe bytes sent).",
                    labels, Double(totals.bytesOut))
            out.add("tms_task_disk_written_bytes_total", .counter, "Bytes the task wrote to disk (the access log's file and spool).",
                    labels, Double(totals.diskBytes))
            out.add("tms_task_spills_total", .counter, "New connections the vServer sent down its backup chain.", labels, Double(totals.spills))
            out.add("tms_task_refusals_total", .counter, "Connections refused or redirected because the whole backup chain was full.",
                    labels, Double(totals.refusals))
            out.add("tms_task_queued_connections_total", .counter, "Connections that waited in the quota queue.", labels, Double(totals.queued))
            out.add("tms_task_connect_failures_total", .counter, "Connection attempts to services that failed (each retried on another service when one is left).",
                    labels, Double(totals.connectFailures))
            out.add("tms_task_cpu_seconds_total", .counter, "CPU time attributed to the task.", labels, totals.cpuSeconds)
            for resource in UsageResource.allCases {
                let key = resource.rawValue
                let resourceLabels = labels + [("resource", key)]
                if let pattern = task.patterns[key] {
                    out.add("tms_task_usage_rate", .gauge, "The task's latest usage of the resource, in the resource's unit (docs/metrics.md).",
                            resourceLabels, pattern.rate)
                    out.add("tms_task_usage_moving_average", .gauge, "Moving average of the task's usage of the resource over the sampling window.",
                            resourceLabels, pattern.movingAverage)
                    out.add("tms_task_usage_peak", .gauge, "Peak of the task's usage of the resource over the sampling window.",
                            resourceLabels, pattern.peak)
                    out.add("tms_task_usage_trend", .gauge, "Trend of the task's usage of the resource, in its unit per second.",
                            resourceLabels, pattern.trend)
                }
                if let forecast = task.forecast[key] {
                    out.add("tms_task_usage_anticipated", .gauge, "The task's usage of the resource anticipated at the forecast horizon.",
                            resourceLabels, forecast.anticipated)
                }
            }
        }
        out.add("tms_process_cpu_seconds_total", .counter, "CPU time of the traffic manager's process (user and system).", [], report.process.cpuSeconds)
        out.add("tms_process_resident_memory_bytes", .gauge, "Resident memory of the traffic manager's process.", [],
                (report.process.residentMiB * 1_048_576).rounded())
        out.add("tms_config_generation", .gauge, "The configuration generation in force (1 at start, one more per reload).", [],
                Double(report.generation))
    }

    private func vServers(_ status: StatusReport, services: [Service], into out: inout PrometheusText) {
        for vServer in status.vServers {
            let labels = [("vserver", vServer.name)]
            out.add("tms_vserver_connection_limit", .gauge, "The vServer's connection limit in force (with a dynamic limit: its services' capacity that is up).",
                    labels, Double(vServer.quota.limit))
            out.add("tms_vserver_connections_in_use", .gauge, "Connections the vServer's quota holds now, over every core.", labels, Double(vServer.quota.inUse))
            out.add("tms_vserver_shared_pool_available_connections", .gauge, "Connections left in the vServer's shared pool (beyond the cores' exclusive parts).",
                    labels, Double(vServer.quota.sharedAvailable))
            out.add("tms_vserver_waiting_connections", .gauge, "Connections waiting in the vServer's quota queue.", labels, Double(vServer.quota.waiting))
            out.add("tms_vserver_draining", .gauge, "1 while a reload removed the vServer and its connections drain.", labels, vServer.draining ? 1 : 0)
            for service in vServer.services {
                out.add("tms_service_up", .gauge, "1 while the service may receive new connections (its monitor's verdict), else 0.",
                        labels + [("service", service.name)], service.up ? 1 : 0)
            }
        }
        var seen: Set<[String]> = []
        let bounds = LatencyHistogram.bounds.map { Double($0) / 1e9 }
        for service in services where seen.insert([service.vServer, service.runtime.config.name]).inserted {
            let labels = [("vserver", service.vServer), ("service", service.runtime.config.name)]
            let counts = ServiceCounterSnapshot(service.runtime.counters)
            out.add("tms_service_connections_total", .counter, "Connections to the service that were established.", labels, Double(counts.connections))
            out.add("tms_service_active_connections", .gauge, "Connections to the service open now, over every core.", labels,
                    Double(service.runtime.openConnections))
            out.add("tms_service_connect_failures_total", .counter, "Connection attempts to the service that failed.", labels, Double(counts.connectFailures))
            out.add("tms_service_sent_bytes_total", .counter, "Bytes relayed to the service from its clients.", labels, Double(counts.bytesSent))
            out.add("tms_service_received_bytes_total", .counter, "Bytes relayed from the service to its clients.", labels, Double(counts.bytesReceived))
            out.histogram("tms_service_connect_duration_seconds", "Time to establish a connection to the service.", labels,
                          bounds: bounds, counts: counts.connectBuckets, sum: Double(counts.connectSumNanos) / 1e9)
            out.histogram("tms_service_first_byte_duration_seconds",
                          "Time from a connection to the service being ready to its first byte back (HTTP: the first response's time to first byte).",
                          labels, bounds: bounds, counts: counts.firstByteBuckets, sum: Double(counts.firstByteSumNanos) / 1e9)
        }
    }

    private func accessLog(_ log: AccessLogStatus, into out: inout PrometheusText) {
        out.add("tms_access_log_records_total", .counter, "Access-log records written.", [], Double(log.records))
        out.add("tms_access_log_lost_records_total", .counter, "Access-log records lost (the writer could not keep up).", [], Double(log.lost))
        if let spool = log.spool {
            out.add("tms_access_log_spool_bytes", .gauge, "Bytes in the access log's spool (records not yet acknowledged by the collector).", [], Double(spool.bytes))
            out.add("tms_access_log_spool_high_water_bytes", .gauge, "The most bytes the spool has held.", [], Double(spool.highWaterBytes))
            out.add("tms_access_log_spool_limit_bytes", .gauge, "The spool's size limit.", [], Double(spool.maxBytes))
            out.add("tms_access_log_unacknowledged_records", .gauge, "Records in the spool the collector has not acknowledged.", [], Double(spool.unacknowledged))
            out.add("tms_access_log_spool_dropped_records_total", .counter, "Records dropped because the spool was full.", [], Double(spool.dropped))
            out.add("tms_access_log_spool_full", .gauge, "1 while the spool is full and new records are dropped.", [],
                    spool.bytes + 4096 >= spool.maxBytes && spool.unacknowledged > 0 ? 1 : 0)
        }
        if let collector = log.collector {
            out.add("tms_access_log_collector_connected", .gauge, "1 while the log collector is connected.", [], collector.connected ? 1 : 0)
            out.add("tms_access_log_collector_refusing", .gauge, "1 while the log collector refuses the records.", [], collector.refusing == nil ? 0 : 1)
            // The collector's summary: records per vServer and outcome, as it counts them.
            for (vServer, outcomes) in collector.vServers.sorted(by: { $0.key < $1.key }).prefix(1000) {
                for (outcome, count) in outcomes.sorted(by: { $0.key < $1.key }) {
                    out.add("tms_access_log_collector_records", .gauge, "Records the log collector holds, per vServer and outcome, as it counts them.",
                            [("vserver", vServer), ("outcome", outcome)], Double(count))
                }
            }
        }
    }
}

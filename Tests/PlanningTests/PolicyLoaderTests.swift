import Testing
@testable import Planning

/// `file:line:column key (kind)` of each diagnostic, in reported order.
private func pins(_ diagnostics: [PolicyDiagnostic]) -> [String] {
    diagnostics.map { "\($0.location) \($0.key) (\($0.kind.rawValue))" }
}

private func validate(_ fixture: String, context: PolicyContext = PolicyFixtures.catalog) throws -> [PolicyDiagnostic] {
    PolicyLoader.validate(try PolicyFixtures.policy(fixture), context: context)
}

@Suite("PolicyLoader")
struct PolicyLoaderTests {
    @Test("the example policies in policies/ validate against the catalog")
    func examplesLoad() throws {
        let policy = try PolicyLoader.load(try PolicyFixtures.examplePolicies(), context: PolicyFixtures.catalog)
        #expect(policy.taskNames == ["health-monitor", "log-collector", "session-store"])
        #expect(Set(policy.tiers.keys) == ["confidential", "standard", "elastic"])
        #expect(policy.tiers["elastic"]?.resolvedHosts == ["local", "fra-a", "fra-b", "par-2"])
        #expect(policy.tiers["confidential"]?.security == .localOnly)
        #expect(policy.tiers["standard"]?.latencyLimitMs == 5)
        #expect(policy.tiers["standard"]?.capacity == TierCapacity(maxVCPUs: 16, maxCVMs: 12))
        let monitor = try #require(policy.tasks["health-monitor"])
        #expect(monitor.vcpus == 1 && monitor.memoryMiB == 512)  // image defaults
        #expect(monitor.thresholds == [.cpuPercent: 40, .connections: 5000])
        #expect(monitor.serves == ["web-paris", "api-frankfurt"])
        #expect(policy.tasks["session-store"]?.clusterSize == 3)
        #expect(policy.tasks["log-collector"]?.profile.cpuShare == 0.8)
        #expect(policy.elastic == ElasticSettings(
            intervalSeconds: 15, cooldownSeconds: 300, hysteresisPercent: 20, maxConcurrentActions: 2,
            forecastMethod: .holt(alpha: 0.3, beta: 0.1), horizonSeconds: 60, windowSeconds: 900,
            pushAboveLoadPercent: 85))
        #expect(policy.placementWeights.spread == 2)
        #expect(policy.sources.location(of: "tasks.health-monitor.tier")?.file == "policies/tasks.yaml")
    }

    @Test("without a catalog, a task relying on image defaults must give its size")
    func examplesWithoutCatalog() throws {
        let d = PolicyLoader.validate(try PolicyFixtures.examplePolicies(), context: .none)
        #expect(d.map(\.key).sorted() == ["tasks.health-monitor.memoryMiB", "tasks.health-monitor.vcpus"])
        #expect(d.allSatisfy { $0.kind == .missingKey && $0.location.file == "policies/tasks.yaml" })
        #expect(d.allSatisfy { $0.location == d[0].location })  // both at the task's name
    }

    @Test("a tier none of whose hosts the registry knows allows no host that exists")
    func unknownToRegistry() throws {
        let context = PolicyContext(images: PolicyFixtures.catalog.images.map { Array($0.values) }, knownHosts: ["local", "par-1"])
        let d = PolicyLoader.validate(try PolicyFixtures.examplePolicies(), context: context)
        #expect(d.isEmpty)  // every tier allows local, which the registry knows
        let strict = PolicyContext(images: PolicyFixtures.catalog.images.map { Array($0.values) }, knownHosts: ["par-1"])
        let e = PolicyLoader.validate(try PolicyFixtures.examplePolicies(), context: strict)
        #expect(e.map(\.key) == ["tiers.confidential", "tiers.elastic"])
        #expect(e.allSatisfy { $0.kind == .impossibleCombination })
        #expect(e[0].message.contains("none of its hosts (local) is known to the host registry"))
    }

    @Test("everything in one file loads the same way")
    func singleFile() throws {
        let policy = try PolicyLoader.load(try PolicyFixtures.policy("single-file"), context: PolicyFixtures.catalog)
        #expect(policy.tiers["standard"]?.resolvedHosts == ["tms-local", "dc-1", "dc-2"])
        #expect(policy.tasks["monitor"]?.maxCVMs == 3)
        #expect(policy.servers["web"]?.coordinate == GeoCoordinate(latitude: 48.85, longitude: 2.35))
        #expect(policy.elastic.forecastMethod == .linear)
        #expect(policy.elastic.horizonSeconds == 30)
        #expect(policy.elastic.cooldownSeconds == 60)
        #expect(policy.elastic.intervalSeconds == 15)  // default kept
        #expect(policy.sources.location(of: "tasks.monitor.tier") == PolicyLocation(file: "single-file/policies.yaml", line: 14, column: 11))
        #expect(policy.sources.keys["tasks.monitor.tier"] == PolicyLocation(file: "single-file/policies.yaml", line: 14, column: 5))
    }

    @Test("unknown keys: file, line, column and key of each, with the likely intended key")
    func unknownKeys() throws {
        let d = try validate("unknown-key")
        #expect(pins(d) == [
            "unknown-key/tasks.yaml:7:7 tasks.monitor.thresholds.conections (unknownKey)",
            "unknown-key/tasks.yaml:8:5 tasks.monitor.colour (unknownKey)",
            "unknown-key/tiers.yaml:8:5 tiers.gold.latencyLimt (unknownKey)",
        ])
        #expect(d[0].message == "unknown key 'conections'; did you mean 'connections'?")
        #expect(d[2].message == "unknown key 'latencyLimt'; did you mean 'latencyLimitMs'?")
        #expect(d[2].description == "unknown-key/tiers.yaml:8:5: error: tiers.gold.latencyLimt: unknown key 'latencyLimt'; did you mean 'latencyLimitMs'?")
    }

    @Test("wrong types: a scalar for a list, a word for a number, a quoted or decimal integer")
    func wrongTypes() throws {
        let d = try validate("wrong-type")
        #expect(pins(d) == [
            "wrong-type/policies.yaml:4:12 clouds.tms.hosts (wrongType)",
            "wrong-type/policies.yaml:8:21 tiers.gold.latencyLimitMs (wrongType)",
            "wrong-type/policies.yaml:14:14 tasks.monitor.maxCVMs (wrongType)",
            "wrong-type/policies.yaml:15:14 tasks.monitor.minCVMs (wrongType)",
            "wrong-type/policies.yaml:17:20 elastic.intervalSeconds (wrongType)",
        ])
        #expect(d[1].message == "expected a number, found a string \"fast\"")
        #expect(d[2].message == "expected an integer, found a string \"3\"")
        #expect(d[3].message == "expected an integer, found a number 1.5")
    }

    @Test("min > max and clusterSize > max are impossible combinations")
    func minAboveMax() throws {
        let d = try validate("min-max")
        #expect(pins(d) == [
            "min-max/tasks.yaml:9:14 tasks.monitor.minCVMs (impossibleCombination)",
            "min-max/tasks.yaml:15:18 tasks.store.clusterSize (impossibleCombination)",
        ])
        #expect(d[0].message == "minCVMs 5 > maxCVMs 2")
        #expect(d[1].message == "clusterSize 3 > maxCVMs 2")
    }

    @Test("a tier whose security forbids its only cloud, or with an empty allow list, allows no host")
    func tierWithoutHost() throws {
        let d = try validate("no-allowed-host")
        #expect(pins(d) == [
            "no-allowed-host/policies.yaml:6:3 tiers.secret (impossibleCombination)",
            "no-allowed-host/policies.yaml:8:21 tiers.secret.allowedClouds[0] (impossibleCombination)",
            "no-allowed-host/policies.yaml:9:3 tiers.empty (impossibleCombination)",
        ])
        #expect(d[0].message.hasPrefix("tier 'secret' allows no host that exists"))
        #expect(d[1].message == "cloud 'aws' has trust public, which security local-only forbids")
    }

    @Test("references to an unknown tier or image")
    func unknownReferences() throws {
        let d = try validate("unknown-tier")
        #expect(pins(d) == [
            "unknown-tier/tasks.yaml:8:11 tasks.monitor.tier (unknownReference)",
            "unknown-tier/tasks.yaml:11:12 tasks.logs.image (unknownReference)",
        ])
        #expect(d[0].message == "unknown tier 'silver' (defined tiers: gold)")
        #expect(d[1].message == "unknown image 'no-such-image' (images in the catalog: cvm-base)")
    }

    @Test("a syntax error in one file does not hide the errors of the others")
    func syntaxError() throws {
        let d = try validate("syntax")
        #expect(pins(d) == [
            "syntax/broken.yaml:4:18  (syntax)",
            "syntax/fine.yaml:4:54 tiers.gold.colour (unknownKey)",
        ])
        #expect(d[0].message.hasPrefix("YAML syntax: did not find expected ',' or ']'"))
    }

    @Test("every error of every file is collected, sorted by file, line and column")
    func collectsAll() throws {
        let d = try validate("many")
        #expect(pins(d) == [
            "many/a-clouds.yaml:3:12 clouds.tms.trust (invalidValue)",
            "many/a-clouds.yaml:7:19 clouds.dc.hosts[1] (duplicate)",
            "many/b-tiers.yaml:4:25 tiers.gold.allowedClouds[1] (unknownReference)",
            "many/b-tiers.yaml:7:3 tiers.gold (duplicate)",
            "many/c-tasks.yaml:6:18 tasks.monitor.clusterSize (impossibleCombination)",
            "many/c-tasks.yaml:7:14 tasks.monitor.serves[0] (unknownReference)",
            "many/c-tasks.yaml:8:22 tasks.monitor.preferredHosts[0] (unknownReference)",
            "many/c-tasks.yaml:10:22 elastic.hysteresisPercent (invalidValue)",
            "many/c-tasks.yaml:11:30 elastic.forecast.alpha (impossibleCombination)",
        ])
        #expect(d[0].message == "'locale' is not one of local, private, public; did you mean 'local'?")
        #expect(d[4].message == "task 'monitor' needs at least 2 CVM(s) = 2 CVMs once offloaded, but tier 'gold' allows 1")
        let files = try PolicyFixtures.policy("many")
        do {
            _ = try PolicyLoader.load(files, context: PolicyFixtures.catalog)
            Issue.record("invalid policies loaded")
        } catch {
            #expect(error.diagnostics == d)
            #expect(error.description.split(separator: "\n").count == 9)
        }
    }

    @Test("a name defined in two files is a duplicate at the second definition")
    func duplicateAcrossFiles() {
        let files = [
            PolicyFile(path: "a.yaml", text: "clouds:\n  tms: {trust: local, hosts: [h]}\n"),
            PolicyFile(path: "b.yaml", text: "clouds:\n  tms: {trust: local, hosts: [h]}\nelastic: {}\n"),
            PolicyFile(path: "c.yaml", text: "elastic:\n  intervalSeconds: 10\n"),
        ]
        #expect(pins(PolicyLoader.validate(files)) == [
            "b.yaml:2:3 clouds.tms (duplicate)",
            "c.yaml:1:1 elastic (duplicate)",
        ])
    }

    @Test("a task whose image cannot run it, and a preferred host outside its tier")
    func impossibleTaskPlacement() {
        let context = PolicyContext(images: [ImageProfile(name: "img", hypervisors: .kvm, defaultVCPUs: 1, defaultMemoryMiB: 256, tasks: ["other"])])
        let text = """
            clouds:
              tms: {trust: local, hosts: [tms-local]}
              pub: {trust: public, hosts: [aws-1]}
            tiers:
              local: {security: local-only, allowedClouds: [tms]}
            tasks:
              t:
                image: img
                tier: local
                maxCVMs: 1
                preferredHosts: [aws-1]
            """
        let d = PolicyLoader.validate([PolicyFile(path: "p.yaml", text: text)], context: context)
        #expect(pins(d) == [
            "p.yaml:8:12 tasks.t.image (impossibleCombination)",
            "p.yaml:11:22 tasks.t.preferredHosts[0] (impossibleCombination)",
        ])
        #expect(d[0].message == "image 'img' cannot run task 't' (it runs: other)")
        #expect(d[1].message == "preferred host 'aws-1' is not allowed by tier 'local'")
    }

    @Test("a window shorter than two intervals cannot show a trend")
    func windowTooShort() {
        let text = "elastic:\n  intervalSeconds: 60\n  forecast:\n    windowSeconds: 90\n"
        let d = PolicyLoader.validate([PolicyFile(path: "e.yaml", text: text)])
        #expect(pins(d) == ["e.yaml:4:20 elastic.forecast.windowSeconds (impossibleCombination)"])
    }

    @Test("an empty file defines nothing and is valid")
    func emptyFile() throws {
        let policy = try PolicyLoader.load([PolicyFile(path: "empty.yaml", text: "# nothing yet\n")])
        #expect(policy.tasks.isEmpty && policy.tiers.isEmpty)
        #expect(policy.elastic == ElasticSettings())
    }
}

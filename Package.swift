// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
// The data plane's hot path (the quota, the relays, the HTTP parser) is built without
// dynamic exclusivity checks in release builds: on the per-request path they cost about 2.5 %
// of the proxy's CPU (swift_beginAccess and its thread-local look-ups, measured with perf).
// Debug builds, where every test runs, keep the checks.
let dataPlane: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

// The module graph (docs/architecture.md has the picture and the import rules):
//   leaves        CLibvirt, CLibssh2 (C only); CVMProtocol (Glibc only); UsageModel; ConfigFile
//   bindings      Libvirt (CLibvirt), SSHClient (CLibssh2): depend on nothing else of ours
//   planning      Planning (UsageModel, ConfigFile, Yams): pure, no libvirt/libssh2/GRDB
//   traffic       TMSCore (no libvirt), TrafficManager (TMSCore, NIO)
//   orchestration Orchestrator (bindings, Planning, CVMProtocol, GRDB, service-lifecycle)
//   API           OrchestratorAPI (Orchestrator, Hummingbird, OpenAPI): `cvmctl serve`'s HTTP API
//   CLI           cvmctl (Orchestrator, OrchestratorAPI, TrafficManager): parse, call, print
let package = Package(
    name: "cvm-orchestrator",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cvmctl", targets: ["cvmctl"]),
        .executable(name: "cvm-agent", targets: ["cvm-agent"]),
        .library(name: "Orchestrator", targets: ["Orchestrator"]),
        .library(name: "TMSCore", targets: ["TMSCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
    ],
    targets: [
        // C modules: only headers and tiny static inline helpers.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt",
                       providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CLibssh2", pkgConfig: "libssh2",
                       providers: [.apt(["libssh2-1-dev"])]),
        // zlib: the log collector's compressed segments (linked static into the guest's cvm-tms).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),

        // The wire protocol shared by the guest agent and the orchestrator.
        // Glibc only (no Foundation): it is linked into the static guest agent.
        // Optimized in debug builds too: it hashes every image file (tens of MiB) before each
        // deploy, which unoptimized code does at a few MiB/s.
        .target(name: "CVMProtocol", swiftSettings: strict + [.unsafeFlags(["-O"], .when(configuration: .debug))]),

        // The static guest agent that runs as /init inside every CVM.
        .executableTarget(name: "cvm-agent", dependencies: ["CVMProtocol"], swiftSettings: strict),

        // Usage samples and their math (least squares, Holt): shared by the planner and the
        // traffic manager's usage monitors.
        .target(name: "UsageModel", swiftSettings: strict),

        // Configuration files: errors that name file, line, column and key.
        .target(name: "ConfigFile", dependencies: [
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: strict),

        // The libvirt binding: owning handles, errors copied in the failing call, events.
        // Depends on nothing else of ours.
        .target(name: "Libvirt", dependencies: ["CLibvirt"], swiftSettings: strict),

        // The SSH client (libssh2): pinned host keys, key login, exec, SFTP.
        // Depends on nothing else of ours.
        .target(name: "SSHClient", dependencies: ["CLibssh2"], swiftSettings: strict),

        // Planning: policies, placement, usage patterns and forecasts, the elastic planner.
        // Pure code: no libvirt, libssh2 or GRDB.
        .target(name: "Planning", dependencies: [
            "UsageModel", "ConfigFile",
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: strict),

        // The traffic manager core: quota pools, spillover. No libvirt.
        .target(name: "TMSCore", dependencies: [
            "CTMSFence", .product(name: "Atomics", package: "swift-atomics"),
        ], swiftSettings: strict + dataPlane),
        // membarrier(2) and a compiler barrier: the quota's core-local fast path.
        .systemLibrary(name: "CTMSFence"),
        // epoll and eventfd: the data plane's raw sockets below NIO.
        .systemLibrary(name: "CTMSPoll"),

        // The traffic manager's data plane: SwiftNIO proxy, health monitors, usage monitors,
        // admin endpoint. Builds on TMSCore's pools; no libvirt.
        .target(name: "TrafficManager", dependencies: [
            "TMSCore", "UsageModel", "ConfigFile", "CZlib", "CVMProtocol", "CTMSPoll",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict + dataPlane),

        // Orchestration: store, images, deploy, migrate, clusters, hosts, heartbeats, status,
        // the policy source (git) and the elastic runtime.
        .target(name: "Orchestrator", dependencies: [
            "Libvirt", "SSHClient", "Planning", "CVMProtocol", "UsageModel", "ConfigFile",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),

        // The orchestrator's HTTP API (`cvmctl serve`): the server is generated from
        // openapi.yaml at build time (swift-openapi-generator), served by Hummingbird, behind
        // bearer tokens kept hashed in the store.
        .target(name: "OrchestratorAPI", dependencies: [
            "Orchestrator", "Libvirt", "CVMProtocol", "TrafficManager", "ConfigFile",
            .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], exclude: ["Dashboard/dashboard.html"], swiftSettings: strict, plugins: [
            .plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator"),
        ]),

        // The operator's CLI: parse, call the library, print.
        .executableTarget(name: "cvmctl", dependencies: [
            "Orchestrator", "OrchestratorAPI", "Planning", "Libvirt", "TMSCore", "TrafficManager", "ConfigFile",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),

        // Benchmarks (whole-program, print ratios against a reference measured in the same run).
        // The traffic manager's data plane in a CVM (image cvm-tms), built static by its recipe.
        .executableTarget(name: "cvm-tms", dependencies: [
            "TrafficManager", "CVMProtocol",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),

        .executableTarget(name: "tms-bench", dependencies: [
            "TMSCore", .product(name: "Atomics", package: "swift-atomics"),
        ], path: "Benchmarks/tms-bench"),
        .executableTarget(name: "placement-bench", dependencies: ["Planning"], path: "Benchmarks/placement-bench"),
        .executableTarget(name: "migrate-bench", dependencies: ["Orchestrator", "Libvirt"], path: "Benchmarks/migrate-bench"),
        .executableTarget(name: "deploy-bench", dependencies: ["Orchestrator", "Libvirt", "CVMProtocol"], path: "Benchmarks/deploy-bench"),
        .executableTarget(name: "elastic-bench", dependencies: ["Orchestrator"], path: "Benchmarks/elastic-bench"),
        .executableTarget(name: "api-bench", dependencies: ["Orchestrator", "CVMProtocol"], path: "Benchmarks/api-bench", exclude: ["render-time.py"]),

        // Tests mirror the targets.
        .testTarget(name: "CVMProtocolTests", dependencies: ["CVMProtocol"]),
        .testTarget(name: "UsageModelTests", dependencies: ["UsageModel"]),
        // ConfigFile, and the three readers that parse through it (policies, the traffic
        // manager's configuration, image manifests) fed the same hostile documents.
        .testTarget(name: "ConfigFileTests", dependencies: [
            "ConfigFile", "Planning", "TrafficManager", "Orchestrator",
            .product(name: "Yams", package: "Yams"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "cvmctlTests", dependencies: [
            "cvmctl", "TMSCore", "OrchestratorAPI", "Orchestrator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "TMSCoreTests", dependencies: [
            "TMSCore",
            .product(name: "Atomics", package: "swift-atomics"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt"]),
        .testTarget(name: "PlanningTests", dependencies: [
            "Planning", "UsageModel",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "OrchestratorTests", dependencies: [
            "Orchestrator", "Planning", "Libvirt", "CVMProtocol", "ConfigFile",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PropertyBased", package: "swift-property-based"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "IntegrationTests", dependencies: ["Orchestrator", "Planning", "Libvirt", "SSHClient", "TrafficManager"]),
        .testTarget(name: "TrafficManagerTests", dependencies: [
            "TrafficManager", "TMSCore", "ConfigFile",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ]
)

// What the data plane is built from: the targets both cut-down packages below keep.
let dataPlaneTargets: Set<String> = [
    "TMSCore", "CTMSFence", "TrafficManager", "CTMSPoll", "UsageModel", "ConfigFile", "CZlib", "CVMProtocol",
]

/// Cuts the package down to `targets` and `product` (a target missing from `targets` that a
/// kept one needs fails the build by name).
@MainActor func cutDown(to targets: Set<String>, keepingProduct product: String) {
    package.targets.removeAll { !targets.contains($0.name) }
    package.products.removeAll { $0.name != product }
}

// The ThreadSanitizer step of scripts/test.sh checks the concurrent core only (the quota pools,
// the data plane, the libvirt binding and its blocking pool). `swift test` builds every target
// of a package, so with CVM_TSAN_SUBSET set the package is cut down to those three test targets
// and what they are built from: an instrumented build of the orchestrator, the API and their
// dependencies (Hummingbird, GRDB, the OpenAPI generator) would double the step's time and
// check nothing the step runs.
if Context.environment["CVM_TSAN_SUBSET"] != nil {
    cutDown(to: dataPlaneTargets.union(["TMSCoreTests", "TrafficManagerTests", "LibvirtTests", "Libvirt", "CLibvirt"]),
            keepingProduct: "TMSCore")
}

// The CVM images' recipes (images/*/recipe.sh) build static release binaries of the guest agent
// and the guest's data plane only. SwiftPM prepares every target's build plugins whatever the
// product asked for, so a full package would build the OpenAPI generator (in release, about five
// minutes) for targets the guest never links. With CVM_GUEST_SUBSET set the package is cut down
// to the two guest programs and what they are built from.
if Context.environment["CVM_GUEST_SUBSET"] != nil {
    cutDown(to: dataPlaneTargets.union(["cvm-agent", "cvm-tms"]), keepingProduct: "cvm-agent")
}

// swift-tools-version:6.2
import Foundation
import PackageDescription

/// Ferry: a peer-to-peer QUIC endpoint library and daemon.
///
/// Linux only: the runtime uses Linux socket options and flags (UDP GSO/GRO, `SOCK_CLOEXEC`, `MSG_NOSIGNAL`,
/// `SO_PEERCRED`) and systemd integration without guards, so no other platform is declared. Swift tools 6.2:
/// `nonisolated(nonsending)` (SE-0461) needs it.
///
/// Layering (see docs/architecture.md): C system libraries → FerryWire (codecs) / FerryCrypto (TLS, AEAD,
/// identity) → FerryTransport (sans-IO QUIC) → Ferry (SwiftNIO runtime, async API) → executables.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

var targets: [Target] = [
    // MARK: C libraries
    .systemLibrary(
        name: "COpenSSL",
        pkgConfig: "openssl",
        providers: [.apt(["libssl-dev"])]
    ),
    .systemLibrary(
        name: "CSodium",
        pkgConfig: "libsodium",
        providers: [.apt(["libsodium-dev"])]
    ),
    .target(
        name: "CFerryShim",
        dependencies: ["COpenSSL"],
        linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
    ),

    // MARK: Libraries
    .target(name: "FerryWire", swiftSettings: swiftSettings),
    .target(
        name: "FerryCrypto",
        dependencies: ["FerryWire", "COpenSSL", "CSodium", "CFerryShim"],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "FerryTransport",
        dependencies: ["FerryWire", "FerryCrypto"],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "FerryTestSupport",
        dependencies: ["FerryWire", "FerryCrypto", "FerryTransport"],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Ferry",
        dependencies: [
            "FerryWire", "FerryCrypto", "FerryTransport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),

    .target(
        name: "FerryDaemon",
        dependencies: [
            "Ferry", "FerryCrypto", "FerryTransport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings
    ),

    .target(
        name: "FerryRelay",
        dependencies: [
            "Ferry", "FerryCrypto", "FerryDaemon",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings
    ),

    // MARK: Executables (thin: parse arguments, call a library)
    .executableTarget(
        name: "ferry-relay",
        dependencies: [
            "FerryRelay", "FerryDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "Sources/FerryRelayMain",
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "ferryd",
        dependencies: [
            "FerryDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "Sources/FerryDaemonMain",
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "FerryCLI",
        dependencies: [
            "Ferry", "FerryCrypto", "FerryDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
    // The sans-IO core alone, in memory, synchronous (no NIO, no tasks): valgrind's callgrind cannot run an async
    // Swift binary, so this is not a subcommand of ferry-bench (Scripts/bench-transport; docs/benchmarks.md).
    .executableTarget(
        name: "FerryTransportBench",
        dependencies: [
            "FerryCrypto", "FerryTransport", "FerryTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: swiftSettings
    ),
    .executableTarget(
        name: "FerryBench",
        dependencies: [
            "Ferry", "FerryCrypto",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: swiftSettings
    ),
]

/// Runnable hook examples (Examples/README.md): each is one `main.swift` that runs two or three endpoints on
/// 127.0.0.1 in one process, prints what happened and exits 0. Scripts/test runs every one. What they share (the
/// `FAILED:` check, an echo service) is in `ExampleSupport`.
let exampleNames = ["hooks-log", "hooks-reject", "hooks-auth", "hooks-monitor", "hooks-remote-map", "hooks-policy"]
targets.append(
    .target(name: "ExampleSupport", dependencies: ["Ferry"], path: "Examples/ExampleSupport", swiftSettings: swiftSettings))
targets += exampleNames.map { name in
    .executableTarget(
        name: name,
        dependencies: ["Ferry", "ExampleSupport", .product(name: "Logging", package: "swift-log")],
        path: "Examples/\(name)",
        swiftSettings: swiftSettings
    )
}

/// The README's library example (bind, a hook, an echo service). It is compiled with everything else and run by
/// Scripts/test against `ferry connect`, and ReadmeExampleTests checks that the README shows this very file.
targets.append(
    .executableTarget(name: "readme-echo", dependencies: ["Ferry"], path: "Examples/readme-echo", swiftSettings: swiftSettings))

/// Test targets. `FERRY_TEST_TARGETS=FerryWireTests,FerryCryptoTests swift test` builds only the named ones,
/// which keeps a focused edit-test loop from compiling every other test module.
let testTargets: [Target] = [
    .testTarget(name: "FerryWireTests", dependencies: ["FerryWire"], swiftSettings: swiftSettings),
    .testTarget(
        name: "FerryCryptoTests",
        dependencies: ["FerryCrypto", "FerryWire"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "FerryTransportTests",
        dependencies: ["FerryTransport", "FerryTestSupport", "FerryCrypto", "FerryWire"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "FerryDaemonTests",
        dependencies: ["FerryDaemon", "Ferry", "FerryCrypto"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "FerryRelayTests",
        dependencies: ["FerryRelay", "FerryDaemon", "Ferry", "FerryCrypto", "FerryTransport"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "FerryTests",
        dependencies: ["Ferry", "FerryCrypto", "FerryTransport"],
        swiftSettings: swiftSettings
    ),
]

let selectedTests = ProcessInfo.processInfo.environment["FERRY_TEST_TARGETS"]
    .map { Set($0.split(separator: ",").map(String.init)) }
targets += testTargets.filter { selectedTests?.contains($0.name) ?? true }

let package = Package(
    name: "Ferry",
    products: [
        .library(name: "Ferry", targets: ["Ferry"]),
        .library(name: "FerryTransport", targets: ["FerryTransport"]),
        .library(name: "FerryCrypto", targets: ["FerryCrypto"]),
        .library(name: "FerryWire", targets: ["FerryWire"]),
        .executable(name: "ferry", targets: ["FerryCLI"]),
        .executable(name: "ferry-bench", targets: ["FerryBench"]),
        .executable(name: "ferry-transport-bench", targets: ["FerryTransportBench"]),
        .executable(name: "ferryd", targets: ["ferryd"]),
        .executable(name: "ferry-relay", targets: ["ferry-relay"]),
    ] + (exampleNames + ["readme-echo"]).map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Documentation only (Scripts/docs: `swift package generate-documentation --target Ferry`).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: targets
)

// swift-tools-version:6.0
import PackageDescription

/// A runnable tour of Ferry's hooks: an allow-list, a fail-closed remote policy, a path monitor, lifecycle hooks
/// and a Router. Build and run from this directory with `swift run --scratch-path .build-example`.
let package = Package(
    name: "HookPolicy",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Ferry", path: "../.."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "HookPolicy",
            dependencies: [
                .product(name: "Ferry", package: "Ferry"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)

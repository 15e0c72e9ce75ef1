// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Cairn",
    // No `platforms`: Cairn builds and runs on Linux only (renameat2, /proc, Glibc); SwiftPM
    // has no way to name Linux, so no Apple platform is claimed (README, "Platforms").
    products: [
        .library(name: "CairnCore", targets: ["CairnCore"]),
        .library(name: "CairnStorage", targets: ["CairnStorage"]),
        .executable(name: "cairn", targets: ["cairn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // `cairn serve` (Sources/CairnServer). Default traits off: no swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
    ],
    targets: [
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CCairnSys", path: "Sources/CCairnSys"),
        .target(
            name: "CairnCore",
            dependencies: ["CLZ4", "CSQLite", "CCrypto", "CZlib", "CCairnSys", "CairnStorage"],
            path: "Sources/CairnCore"
        ),
        .target(name: "CairnStorage", dependencies: ["CCrypto", "CCairnSys"], path: "Sources/CairnStorage"),
        .target(
            name: "CairnServer",
            dependencies: ["CairnCore", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Sources/CairnServer"
        ),
        .executableTarget(
            name: "cairn",
            dependencies: ["CairnCore", "CairnStorage", "CairnServer", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/cairn"
        ),
        .executableTarget(name: "cairn-example", dependencies: ["CairnCore"], path: "Examples/SnapshotOnLaunch"),
        .executableTarget(name: "cairn-microbench", dependencies: ["CairnCore"], path: "Benchmarks/Micro"),
        .target(name: "CairnTestSupport", dependencies: ["CairnCore", "CairnStorage"], path: "Tests/CairnTestSupport"),
        .testTarget(name: "CairnCoreTests", dependencies: ["CairnCore", "CairnStorage", "CairnTestSupport"], path: "Tests/CairnCoreTests"),
        .testTarget(name: "CairnStorageTests", dependencies: ["CairnStorage"], path: "Tests/CairnStorageTests"),
        .testTarget(name: "CairnServerTests", dependencies: ["CairnCore", "CairnServer", "CairnTestSupport"], path: "Tests/CairnServerTests"),
        .testTarget(name: "CairnCLITests", dependencies: ["CairnCore", "CairnStorage", "CairnTestSupport"], path: "Tests/CairnCLITests"),
    ],
    swiftLanguageModes: [.v6]
)

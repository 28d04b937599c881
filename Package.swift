// swift-tools-version:6.2

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["SwitchyardCLI"]),
        .executable(name: "switchyard-bench", targets: ["SwitchyardBench"]),
        .library(name: "Switchyard", targets: ["Switchyard"]),
        .library(name: "SwitchyardTesting", targets: ["SwitchyardTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C libraries, as the system provides them.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .systemLibrary(
            name: "CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"]), .brew(["libgit2"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl"])]
        ),
        .systemLibrary(
            name: "CXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),

        // openat2(2), which has no glibc wrapper.
        .target(name: "CBeneath"),

        // One idiomatic Swift module per C library; no agent knowledge.
        .target(name: "Curl", dependencies: ["CCurl"], swiftSettings: swiftSettings),
        .target(name: "Git", dependencies: ["CGit2"], swiftSettings: swiftSettings),
        .target(name: "SQLite", dependencies: ["CSQLite"], swiftSettings: swiftSettings),
        .target(name: "Hashing", dependencies: ["CCrypto"], swiftSettings: swiftSettings),

        // The core.
        .target(
            name: "Switchyard",
            dependencies: [
                "SQLite", "Hashing", "CBeneath", "Yams", .product(name: "SwiftCSV", package: "SwiftCSV"),
            ],
            swiftSettings: swiftSettings
        ),

        // Model providers: the core's model protocols over HTTP.
        .target(name: "Providers", dependencies: ["Switchyard", "Curl"], swiftSettings: swiftSettings),
        .target(
            name: "SwitchyardTesting",
            dependencies: [
                "Switchyard", "Providers", "Curl", .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),

        // Agent tools, one target each, and what the git-reading ones share.
        .target(
            name: "GitWorkspace", dependencies: ["Switchyard", "Git"], path: "Tools/GitWorkspace",
            swiftSettings: swiftSettings),
        .target(
            name: "FileTools",
            dependencies: [
                "Switchyard", "GitWorkspace", "Git", .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            path: "Tools/FileTools",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GitTools", dependencies: ["Switchyard", "GitWorkspace", "Git"], path: "Tools/GitTools",
            swiftSettings: swiftSettings),
        .target(
            name: "ShellTool",
            dependencies: ["Switchyard", .product(name: "Subprocess", package: "swift-subprocess")],
            path: "Tools/ShellTool",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "VectorStore",
            dependencies: ["Switchyard", "SQLite", "Hashing", "FileTools"],
            path: "Tools/VectorStore",
            // The SIMD scans are 50x slower unoptimised; tests search 100,000 vectors.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),

        .target(
            name: "HTTPTool", dependencies: ["Switchyard", "Curl", "CXML2"], path: "Tools/HTTPTool",
            swiftSettings: swiftSettings),

        // MCP servers' tools, over the MCP SDK's client on stdio.
        .target(
            name: "MCPClient",
            dependencies: [
                "Switchyard", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/MCPClient",
            swiftSettings: swiftSettings
        ),

        // The composition layer: profiles made into providers, tool names into tools, and the
        // checks of `doctor`.
        .target(
            name: "Composition",
            dependencies: [
                "Switchyard", "Providers", "Curl", "Git", "FileTools", "GitTools", "ShellTool", "VectorStore",
                "HTTPTool", "MCPClient", "Hashing", .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),

        // Executables: argument parsing and printing only.
        .executableTarget(
            name: "SwitchyardCLI",
            dependencies: [
                // VectorStore for the index command's summary and progress types.
                "Switchyard", "Composition", "VectorStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "SwitchyardBench",
            dependencies: [
                "Curl", "Switchyard", "Providers", "SwitchyardTesting", "FileTools", "GitTools", "Git", "VectorStore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "CurlTests",
            dependencies: ["Curl", "SwitchyardTesting", .product(name: "Subprocess", package: "swift-subprocess")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "GitTests", dependencies: ["Git", "SwitchyardTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FileToolsTests", dependencies: ["FileTools", "Switchyard", "SwitchyardTesting"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "GitToolsTests", dependencies: ["GitTools", "Git", "Switchyard", "SwitchyardTesting"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "VectorStoreTests", dependencies: ["VectorStore", "Providers", "Switchyard", "SwitchyardTesting"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "HTTPToolTests", dependencies: ["HTTPTool", "Switchyard", "SwitchyardTesting"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ShellToolTests", dependencies: ["ShellTool", "Switchyard", "SwitchyardTesting"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MCPClientTests",
            dependencies: ["MCPClient", "Composition", "Switchyard", "SwitchyardTesting", "SQLite"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ProvidersTests", dependencies: ["Providers", "Switchyard", "SwitchyardTesting", "Curl"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "CompositionTests", dependencies: ["Composition", "Switchyard", "SwitchyardTesting", "Curl"],
            swiftSettings: swiftSettings),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite", "SwitchyardTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SwitchyardTests",
            dependencies: [
                "Switchyard", "SwitchyardTesting", "Providers", "Composition", "Curl", "SQLite", "Hashing",
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchyardCLITests",
            dependencies: [
                "Switchyard", "SwitchyardTesting", "SQLite", .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// swift-tools-version:6.0
import PackageDescription

// The benchmark load generator: raw HTTP/1.1 over NIO sockets, so one process with one or two event-loop threads
// can hold ten thousand SSE subscribers. Kept out of the main package so the gateway never depends on it.
let package = Package(
    name: "sluice-load",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice-load", targets: ["sluice-load"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")
    ],
    targets: [
        .executableTarget(
            name: "sluice-load",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        )
    ]
)

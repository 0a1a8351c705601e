// swift-tools-version:6.2
import Foundation
import PackageDescription

// The MQTT 5 client benchmark: Sluice's MQTT5 client publishing to and receiving from mosquitto, side by side with
// mosquitto's C clients (mosquitto_pub, mosquitto_sub) and paho-mqtt (bench/mqtt/paho_bench.py). Kept out of the
// main package so the gateway never depends on it.

// A path dependency's identity is its folder's name: "main" in /work/main, the worktree's name elsewhere.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let package = Package(
    name: "mqttbench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mqttbench", targets: ["mqttbench"])
    ],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "mqttbench",
            dependencies: [
                .product(name: "MQTT5", package: rootIdentity),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        )
    ]
)

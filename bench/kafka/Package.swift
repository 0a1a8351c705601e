// swift-tools-version:6.2
import PackageDescription

// The Kafka client benchmark: Sluice's KafkaClient producing to and consuming from a broker, side by side with
// librdkafka (bench/kafka/librdkafka_bench.py). Kept out of the main package so the gateway never depends on it.
let package = Package(
    name: "kafkabench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kafkabench", targets: ["kafkabench"])
    ],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "kafkabench",
            dependencies: [
                .product(name: "KafkaClient", package: "main"),
                .product(name: "KafkaWire", package: "main"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        )
    ]
)

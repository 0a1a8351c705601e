// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceEndpoints", targets: ["SluiceEndpoints"]),
        .library(name: "SluiceEntrypoints", targets: ["SluiceEntrypoints"]),
        .library(name: "SluiceGateway", targets: ["SluiceGateway"]),
        .library(name: "SluiceStore", targets: ["SluiceStore"]),
        .library(name: "SluiceManagement", targets: ["SluiceManagement"]),
        .library(name: "KafkaWire", targets: ["KafkaWire"]),
        .library(name: "KafkaClient", targets: ["KafkaClient"]),
        .library(name: "MQTT5", targets: ["MQTT5"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // 4.x: jwt-kit 5 needs it.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.1.0"),
        // JWT signature checks (HMAC, RSA, ECDSA, EdDSA keys and JWK sets) for jwt plans.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        // HTTP/2 over clear text (h2c) to http-proxy backends; already in the graph through async-http-client.
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        // The management store: SQLite (the embedded default) and PostgreSQL (several gateway nodes).
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // The gateway's metrics: swift-metrics' API, with swift-prometheus' registry rendering the scrape text.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Tracing: spans through swift-distributed-tracing's API, exported over OTLP/HTTP by swift-otel when
        // configured. Only the OTLPHTTP trait: the default traits would build a gRPC stack the gateway does not use.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // Kafka protocol messages, record batches and compression codecs: values and ByteBuffer codecs, no I/O.
        // CRC32C with the CPU's instruction where there is one (record batch checksums).
        .target(name: "CKafkaCRC32C"),
        .target(
            name: "KafkaWire",
            dependencies: [
                "CKafkaCRC32C",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Kafka connections, metadata, producer, consumer, consumer groups and admin, on NIO event loops.
        .target(
            name: "KafkaClient",
            dependencies: [
                "KafkaWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // MQTT 5.0 packets, properties, reason codes, topic rules and framing (values and ByteBuffer codecs), and
        // the client: connection and session state machines, channel handlers, a reconnecting `Service`.
        .target(
            name: "MQTT5",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Definitions, messages, validation, errors: no server I/O.
        .target(
            name: "SluiceCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Endpoint connectors: where messages come from and go to (and where proxied requests go).
        .target(
            name: "SluiceEndpoints",
            dependencies: [
                "SluiceCore",
                "KafkaClient",
                "KafkaWire",
                "MQTT5",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Entrypoint connectors: how HTTP clients publish and consume.
        .target(
            name: "SluiceEntrypoints",
            dependencies: [
                "SluiceCore",
                "SluiceEndpoints",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The management store: APIs, plans, applications, subscriptions, keys, users, audit log and the change
        // events gateways follow; SQLite (GRDB) and PostgreSQL (postgres-nio), with versioned migrations; shared
        // rate-limit counters in PostgreSQL.
        .target(
            name: "SluiceStore",
            dependencies: [
                "SluiceCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Server assembly, routing, deployments, settings.
        .target(
            name: "SluiceGateway",
            dependencies: [
                "SluiceCore",
                "SluiceStore",
                "SluiceEndpoints",
                "SluiceEntrypoints",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            swiftSettings: swiftSettings
        ),
        // The management REST API (Hummingbird, its own port): APIs, plans, applications, subscriptions, keys,
        // users and the audit log over the management store, with bearer-token access, problem details, an
        // OpenAPI document and AsyncAPI documents; and the HTTP client the command line uses.
        .target(
            name: "SluiceManagement",
            dependencies: [
                "SluiceCore",
                "SluiceStore",
                "SluiceGateway",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceCore",
                "SluiceGateway",
                "SluiceManagement",
                "SluiceStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmarks only (bench/flows/run.sh): message-filtering evaluations per second through FlowRun.process.
        // A target here, not a package under bench/, so that it reuses the build of SluiceCore and adds no dependency.
        .executableTarget(
            name: "sluice-flow-bench",
            dependencies: [
                "SluiceCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/flows/Sources/sluice-flow-bench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KafkaWireTests",
            dependencies: ["KafkaWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Unit tests of the client's state machines and algorithms, without sockets.
        .testTarget(
            name: "KafkaClientTests",
            dependencies: ["KafkaClient", "KafkaWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The tests' harness for a real Kafka-compatible broker (tansu, started per test on a free loopback port)
        // and librdkafka as the reference client: used by every suite that needs a broker.
        .target(
            name: "KafkaTestSupport",
            path: "Tests/KafkaTestSupport",
            swiftSettings: swiftSettings
        ),
        // Tests against a real Kafka-compatible broker (tansu) and librdkafka, started by the tests themselves.
        .testTarget(
            name: "KafkaBrokerTests",
            dependencies: [
                "KafkaClient", "KafkaWire", "KafkaTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The codec's tests, and unit tests of the client's state machines with a manual clock, without sockets.
        .testTarget(
            name: "MQTT5Tests",
            dependencies: ["MQTT5", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The tests' harness for a real MQTT 5 broker (mosquitto, started per test on a free loopback port) and
        // paho-mqtt as the reference client: used by every suite that needs a broker.
        .target(
            name: "MQTT5TestSupport",
            dependencies: ["MQTT5", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/MQTT5TestSupport",
            swiftSettings: swiftSettings
        ),
        // The MQTT 5 client against a real mosquitto 2.0 broker and fake servers, started by the tests themselves.
        .testTarget(
            name: "MQTT5BrokerTests",
            dependencies: [
                "MQTT5", "MQTT5TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceCoreTests",
            dependencies: ["SluiceCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceEndpointsTests",
            dependencies: [
                "SluiceCore", "SluiceEndpoints", "KafkaClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The gateway's end-to-end harness against real brokers: a gateway in the test process serving definitions
        // from a temporary directory, HTTP, SSE (raw socket) clients: shared by the kafka and mqtt5 endpoint suites.
        .target(
            name: "GatewayTestSupport",
            dependencies: [
                "SluiceCore",
                "SluiceGateway",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/GatewayTestSupport",
            swiftSettings: swiftSettings
        ),
        // The kafka endpoint end to end: a gateway in the test process, a real tansu broker started by each test,
        // clients over real sockets, librdkafka as the oracle on the broker side.
        .testTarget(
            name: "SluiceKafkaEndpointTests",
            dependencies: [
                "SluiceCore",
                "SluiceEndpoints",
                "SluiceEntrypoints",
                "SluiceGateway",
                "KafkaClient",
                "KafkaTestSupport",
                "GatewayTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The mqtt5 endpoint end to end: a gateway in the test process, a real mosquitto started by each test,
        // clients over real sockets, paho-mqtt as the oracle on the broker side.
        .testTarget(
            name: "SluiceMQTT5EndpointTests",
            dependencies: [
                "SluiceCore",
                "SluiceEndpoints",
                "SluiceEntrypoints",
                "SluiceGateway",
                "MQTT5",
                "MQTT5TestSupport",
                "GatewayTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The tests' harness for a real PostgreSQL server (Debian's postgresql, started per test in a temporary
        // directory on a free loopback port): used by the management store's suites.
        .target(
            name: "PostgresTestSupport",
            path: "Tests/PostgresTestSupport",
            swiftSettings: swiftSettings
        ),
        // The management store's contract, run against SQLite (a temporary directory) and a real PostgreSQL server;
        // migrations; shared rate-limit counters.
        .testTarget(
            name: "SluiceStoreTests",
            dependencies: [
                "SluiceCore", "SluiceStore", "PostgresTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Gateways following the management store end to end: deployments, revocations, outages, several nodes on
        // one real PostgreSQL server, shared rate limits, through real sockets.
        .testTarget(
            name: "SluiceStoreSyncTests",
            dependencies: [
                "GatewayTestSupport", "PostgresTestSupport", "SluiceCore", "SluiceGateway", "SluiceStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The management REST API end to end over real HTTP, on SQLite (a temporary directory) and a real
        // PostgreSQL server; bad input on every route; the OpenAPI document against the routes; a gateway node
        // applying what the API changes.
        .testTarget(
            name: "SluiceManagementTests",
            dependencies: [
                "GatewayTestSupport", "PostgresTestSupport", "SluiceCore", "SluiceGateway", "SluiceManagement",
                "SluiceStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SluiceGatewayTests",
            dependencies: [
                "GatewayTestSupport",
                "SluiceCore",
                "SluiceEndpoints",
                "SluiceEntrypoints",
                "SluiceGateway",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

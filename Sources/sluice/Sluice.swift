import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SluiceCore
import SluiceGateway
import SluiceManagement
import SluiceStore

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "An event-native API gateway: HTTP, SSE and WebSocket APIs in front of event brokers.",
        subcommands: [
            Serve.self, Validate.self, APIsCommand.self, ApplicationsCommand.self, SubscriptionsCommand.self,
            KeysCommand.self, TopCommand.self,
        ],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway, the management API, or both.")

    @Option(help: "A Gravitee v4 API definition file, or a directory of them (JSON or YAML).")
    var apis: String?

    @Option(help: "Address to listen on (default 0.0.0.0).")
    var host: String?

    @Option(help: "Port to listen on (default 8082).")
    var port: Int?

    @Option(name: .customLong("config"), help: "A settings file (YAML or JSON).")
    var settingsFile: String?

    @Option(
        help: """
            Where APIs and access data are managed: none (serve --apis alone, the default), sqlite (a file in \
            --data-dir) or postgres (--postgres-url). With a store, --apis is copied into it at start.
            """)
    var store: String?

    @Option(name: .customLong("data-dir"), help: "The SQLite store's directory (default ./data).")
    var dataDirectory: String?

    @Option(name: .customLong("postgres-url"), help: "postgres://user:password@host:5432/database")
    var postgresURL: String?

    @Option(
        help: """
            What to run: gateway, management (the management API on the store) or all. Default: gateway without a \
            store, all with one.
            """)
    var role: String?

    @Option(name: .customLong("management-port"), help: "The management API's port (default 8083).")
    var managementPort: Int?

    func run() async throws {
        var settings = GatewaySettings()
        do {
            if let settingsFile { try settings.apply(file: settingsFile) }
            try settings.apply(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error)")
        }
        if let apis { settings.apis = apis }
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let store {
            guard let kind = StoreSettings.Kind(rawValue: store.lowercased()) else {
                throw ValidationError("--store must be none, sqlite or postgres")
            }
            settings.store.kind = kind
        }
        if let dataDirectory { settings.store.dataDirectory = dataDirectory }
        if let postgresURL { settings.store.postgresURL = postgresURL }
        if let role {
            guard let parsed = ServeRole(rawValue: role.lowercased()) else {
                throw ValidationError("--role must be gateway, management or all")
            }
            settings.role = parsed
        }
        if let managementPort { settings.management.port = managementPort }
        if let problem = settings.store.problem() { throw ValidationError("\(problem)") }
        let role = settings.effectiveRole
        if role != .gateway, settings.store.kind == .none {
            throw ValidationError(
                "the management API needs a store: --store sqlite (with --data-dir) or --store postgres (with --postgres-url)"
            )
        }
        var managementConfiguration = ManagementConfiguration()
        if role != .gateway {
            managementConfiguration.host = settings.management.host ?? settings.host
            managementConfiguration.port = settings.management.port
            managementConfiguration.maxRequestBodyBytes = settings.management.maxRequestBodyBytes
            managementConfiguration.callbackPolicy = settings.webhookCallbacks
            managementConfiguration.adminToken = settings.management.adminToken
            if managementConfiguration.adminToken == nil, let file = settings.management.adminTokenFile {
                do {
                    managementConfiguration.adminToken = try AdminBootstrap.token(fromFile: file)
                } catch {
                    throw ValidationError("management.adminTokenFile: \(error)")
                }
            }
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sluice")
        var managementStore: (any ManagementStore)?
        var rateLimitStore: (any RateLimitStore)?
        do {
            switch settings.store.kind {
            case .none:
                break
            case .sqlite:
                let store = try await SQLiteManagementStore(directory: settings.store.dataDirectory)
                logger.info("management store: SQLite", metadata: ["file": "\(store.path)"])
                managementStore = store
            case .postgres:
                var configuration = try PostgresStoreConfiguration(url: settings.store.postgresURL ?? "")
                configuration.operationTimeout = .milliseconds(settings.store.operationTimeoutMs)
                let store = try PostgresManagementStore(configuration: configuration, logger: logger)
                logger.info(
                    "management store: PostgreSQL",
                    metadata: [
                        "host": "\(configuration.host):\(configuration.port)",
                        "database": "\(configuration.database ?? "")",
                    ])
                managementStore = store
                if settings.store.sharedRateLimits { rateLimitStore = store.rateLimitStore }
            }
        } catch {
            throw ValidationError("\(error)")
        }
        if role != .gateway, let managementStore {
            var services: [any Service] = []
            var gateway: Gateway?
            if role == .all {
                let running = Gateway(
                    settings: settings, logger: logger, rateLimitStore: rateLimitStore,
                    managementStore: managementStore)
                Self.bootstrapMetrics(running)
                services = try running.services()
                gateway = running
            } else if let storeService = managementStore as? any Service {
                services.append(storeService)
            }
            services.append(
                EventPruner(
                    store: managementStore, retention: .seconds(settings.store.eventRetentionSeconds), logger: logger))
            let management = ManagementServer(
                store: managementStore, configuration: managementConfiguration, logger: logger, gateway: gateway)
            // Last, so that it stops first: no change is accepted while the gateway drains.
            services.append(management)
            var configuration = ServiceGroupConfiguration(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
            configuration.maximumGracefulShutdownDuration = .milliseconds(Int(settings.drainTimeoutSeconds * 1000))
            try await ServiceGroup(configuration: configuration).run()
            return
        }
        let gateway = Gateway(
            settings: settings, logger: logger, rateLimitStore: rateLimitStore, managementStore: managementStore)
        Self.bootstrapMetrics(gateway)
        guard managementStore == nil else {
            // The store sync deploys once the services run (the PostgreSQL pool needs to be running first).
            try await gateway.run()
            return
        }
        let failures = await gateway.deployDefinitions()
        logger.info(
            "definitions loaded",
            metadata: [
                "deployed": "\(gateway.registry.deployedIDs.joined(separator: ","))", "refused": "\(failures.count)",
            ]
        )
        try await gateway.run()
    }

    /// Libraries that report through swift-metrics land in the gateway's own registry, on the same scrape.
    static func bootstrapMetrics(_ gateway: Gateway) {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: gateway.observability.metrics.registry))
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check API definitions and print every problem found.")

    @Argument(help: "A definition file or a directory of them (and of access files, `*.access.yaml|yml|json`).")
    var path: String

    func run() throws {
        let loader = DefinitionLoader(catalog: .gateway)
        let files: [URL]
        do {
            files = try DefinitionLoader.definitionFiles(at: path)
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
        var failed = 0
        for file in files {
            let loaded = loader.load(file: file)
            if loaded.isDeployable {
                print("ok    \(file.path)  (\(loaded.definition!.id))")
            } else {
                failed += 1
                print("error \(file.path)")
            }
            for diagnostic in loaded.diagnostics {
                print("      \(diagnostic)")
            }
        }
        let accessFiles = (try? DefinitionLoader.accessFiles(at: path)) ?? []
        var accessData: [AccessData] = []
        for file in accessFiles {
            let (data, diagnostics) = AccessFileReader().read(
                data: (try? Data(contentsOf: file)) ?? Data(), source: file.path)
            if let data {
                accessData.append(data)
                print(
                    "ok    \(file.path)  (access: \(data.subscriptions.count) subscriptions, \(data.apiKeys.count) keys)"
                )
            } else {
                failed += 1
                print("error \(file.path)")
            }
            for diagnostic in diagnostics { print("      \(diagnostic)") }
        }
        for warning in AccessFileReader.crossCheck(AccessData.merging(accessData)) { print("      \(warning)") }
        let total = files.count + accessFiles.count
        print("\(total - failed) valid, \(failed) invalid")
        if failed > 0 { throw ExitCode(1) }
    }
}

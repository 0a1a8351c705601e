import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SluiceCore
import SluiceGateway

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "An event-native API gateway: HTTP, SSE and WebSocket APIs in front of event brokers.",
        subcommands: [Serve.self, Validate.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway on a file or directory of API definitions.")

    @Option(help: "A Gravitee v4 API definition file, or a directory of them (JSON or YAML).")
    var apis: String?

    @Option(help: "Address to listen on (default 0.0.0.0).")
    var host: String?

    @Option(help: "Port to listen on (default 8082).")
    var port: Int?

    @Option(name: .customLong("config"), help: "A settings file (YAML or JSON).")
    var settingsFile: String?

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
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sluice")
        let gateway = Gateway(settings: settings, logger: logger)
        // Libraries that report through swift-metrics land in the gateway's own registry, on the same scrape.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: gateway.observability.metrics.registry))
        let failures = await gateway.deployDefinitions()
        logger.info(
            "definitions loaded",
            metadata: [
                "deployed": "\(gateway.registry.deployedIDs.joined(separator: ","))", "refused": "\(failures.count)",
            ]
        )
        try await gateway.run()
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

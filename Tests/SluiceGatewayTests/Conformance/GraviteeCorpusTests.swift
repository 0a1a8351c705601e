import Foundation
import Logging
import SluiceCore
import SluiceEntrypoints
import SluiceGateway
import Testing

/// Loads every Gravitee v4 fixture in ../shared/reference/gravitee-v4 (the compatibility corpus): each must
/// deploy, or be refused with a diagnostic naming each type it uses that this gateway does not support.
@Suite("Gravitee v4 corpus")
struct GraviteeCorpusTests {
    static let corpus = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/gravitee-v4")
    static var corpusPresent: Bool { FileManager.default.fileExists(atPath: corpus.path) }

    /// The type names a definition uses, read straight from its JSON (independently of the loader).
    static func namedTypes(_ value: JSONValue) -> [(kind: String, type: String)] {
        var found: [(String, String)] = []
        for listener in value["listeners"]?.arrayValue ?? [] {
            for entrypoint in listener["entrypoints"]?.arrayValue ?? [] {
                if let type = entrypoint["type"]?.stringValue { found.append(("entrypoint", type)) }
            }
        }
        for group in value["endpointGroups"]?.arrayValue ?? [] {
            if let type = group["type"]?.stringValue { found.append(("endpoint", type)) }
        }
        func flows(_ list: [JSONValue]) {
            for flow in list {
                for phase in ["request", "response", "publish", "subscribe", "connect", "interact"] {
                    for step in flow[phase]?.arrayValue ?? [] {
                        if let policy = step["policy"]?.stringValue { found.append(("policy", policy)) }
                    }
                }
            }
        }
        flows(value["flows"]?.arrayValue ?? [])
        for plan in value["plans"]?.arrayValue ?? [] {
            if let type = plan["security"]?["type"]?.stringValue { found.append(("plan security", type)) }
            flows(plan["flows"]?.arrayValue ?? [])
        }
        for resource in value["resources"]?.arrayValue ?? [] {
            if let type = resource["type"]?.stringValue { found.append(("resource", type)) }
        }
        return found
    }

    static func isSupported(_ kind: String, _ type: String, _ catalog: DefinitionCatalog) -> Bool {
        switch kind {
        case "entrypoint": catalog.entrypoints[type] != nil
        case "endpoint": catalog.endpoints[type] != nil
        case "policy": catalog.policies.contains(type)
        case "plan security": catalog.securityTypes.contains(type)
        default: catalog.resourceTypes.contains(type)
        }
    }

    /// The fixtures' broker addresses (and the gateway port a proxy fixture targets) are placeholders that Gravitee's own tests replace before deploying; so do
    /// these tests (nothing connects at deploy time).
    static func withBrokerAddresses(_ data: Data) -> Data {
        Data(
            String(decoding: data, as: UTF8.self)
                .replacingOccurrences(of: "\"bootstrap-server\"", with: "\"127.0.0.1:9092\"")
                .replacingOccurrences(of: "\"mqtt5-host\"", with: "\"127.0.0.1\"")
                .replacingOccurrences(of: "\"mqtt5-port\"", with: "1883")
                .replacingOccurrences(of: "${GATEWAY_HTTP_PORT}", with: "8082")
                .utf8)
    }

    /// Fixtures that use only supported types and still do not deploy, on purpose, with the diagnostic they get.
    static let refusedOnPurpose: [String: (code: String, path: String)] = [
        // `"bootstrapServers": "wrong"`: Gravitee deploys it and fails each request; Sluice refuses it at deploy.
        "http-get-entrypoint-kafka-endpoint-failure.json": (
            "INVALID_VALUE", "endpointGroups[0].endpoints[0].configuration.bootstrapServers"
        ),
        // Its flows now run (assign-attributes); what remains is an expression in the endpoint's configuration,
        // which the Kafka endpoint does not evaluate yet.
        "http-get-entrypoint-kafka-endpoint-dynamic-configuration.json": (
            "UNSUPPORTED_EXPRESSION",
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.consumer.autoOffsetReset"
        ),
        // `#dictionaries` and `#node` (Gravitee's management dictionaries and node): this gateway has neither.
        "api-with-ELs.json": ("UNSUPPORTED_EXPRESSION", "flows[0].request[1].configuration.addHeaders[0].value"),
        // A secret resolved by an expression (`{#secrets.get(...)}`): expressions are not evaluated yet.
        "http-get-entrypoint-kafka-endpoint-secret.json": (
            "UNSUPPORTED_EXPRESSION", "endpointGroups[0].endpoints[0].configuration.bootstrapServers"
        ),
    ]

    @Test("every fixture deploys or is refused naming its unsupported types")
    func corpusLoads() async throws {
        guard Self.corpusPresent else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        let files = try DefinitionLoader.definitionFiles(at: Self.corpus.path)
        #expect(files.count > 50)
        let catalog = DefinitionCatalog.gateway
        let loader = DefinitionLoader(catalog: catalog)
        var deployed = 0
        for file in files {
            let data = Self.withBrokerAddresses(try Data(contentsOf: file))
            let raw = try JSONValue.parse(json: data)
            let unsupported = Self.namedTypes(raw).filter { !Self.isSupported($0.kind, $0.type, catalog) }
            let loaded = loader.load(data: data, source: file.path)
            if unsupported.isEmpty, let expected = Self.refusedOnPurpose[file.lastPathComponent] {
                #expect(!loaded.isDeployable, "\(file.lastPathComponent) deployed")
                #expect(
                    loaded.errors.contains { $0.code == expected.code && $0.path == expected.path },
                    "\(file.lastPathComponent): expected \(expected), got \(loaded.errors)")
            } else if unsupported.isEmpty {
                #expect(loaded.isDeployable, "\(file.lastPathComponent): \(loaded.errors)")
                guard let definition = loaded.definition else { continue }
                // It really deploys, into a registry of its own.
                var settings = GatewaySettings()
                settings.apis = nil
                let gateway = Gateway(settings: settings, logger: Logger(label: "corpus"))
                #expect(throws: Never.self) { try gateway.registry.deploy(definition, source: file.path) }
                deployed += 1
            } else {
                #expect(!loaded.isDeployable, "\(file.lastPathComponent) deployed despite \(unsupported)")
                for (kind, type) in unsupported {
                    let named = loaded.errors.contains {
                        $0.code == "UNSUPPORTED_TYPE" && $0.message == "\(kind) type '\(type)' is not supported"
                            && !$0.path.isEmpty
                    }
                    #expect(
                        named, "\(file.lastPathComponent): no diagnostic names \(kind) '\(type)'; got \(loaded.errors)")
                }
            }
        }
        #expect(deployed >= 10)
    }

    @Test("the examples shipped with Sluice all deploy")
    func examples() throws {
        let files = try DefinitionLoader.definitionFiles(at: packageRoot.appendingPathComponent("examples/apis").path)
        #expect(files.count >= 2)
        let loader = DefinitionLoader(catalog: .gateway)
        for file in files {
            let loaded = loader.load(file: file)
            #expect(loaded.isDeployable, "\(file.lastPathComponent): \(loaded.diagnostics)")
        }
    }
}

import Foundation
import SluiceGateway
import Testing

@Suite("gateway settings")
struct GatewaySettingsTests {
    @Test("a settings file, then SLUICE_* variables over it; the API-key names among them")
    func fileThenEnvironment() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        port: 9000
        security:
          apiKeyHeader: X-Api-Key
          apiKeyQueryParameter: key
          jwtClockSkewSeconds: 5
        """.write(to: file, atomically: true, encoding: .utf8)
        var settings = GatewaySettings()
        try settings.apply(file: file.path)
        #expect(settings.port == 9000)
        #expect(settings.security.apiKeyNames == .init(header: "X-Api-Key", queryParameter: "key"))
        #expect(settings.security.jwtClockSkewSeconds == 5)
        try settings.apply(environment: [
            "SLUICE_SECURITY_API_KEY_HEADER": "X-Key", "SLUICE_PORT": "9001", "HOME": "/elsewhere",
        ])
        #expect(settings.security.apiKeyNames == .init(header: "X-Key", queryParameter: "key"))
        #expect(settings.port == 9001)
        #expect(
            GatewaySettings().security.apiKeyNames == .init(header: "X-Gravitee-Api-Key", queryParameter: "api-key"))
    }

    @Test("bad values are refused with the setting's name, and leave nothing half applied in their place")
    func badValues() throws {
        for (variable, setting) in [
            ("SLUICE_SECURITY_API_KEY_HEADER", "security.apiKeyHeader"),
            ("SLUICE_SECURITY_API_KEY_QUERY_PARAMETER", "security.apiKeyQueryParameter"),
        ] {
            for value in ["", "two words", "a:b", "x\r\ny"] {
                var settings = GatewaySettings()
                #expect(throws: GatewaySettings.Problem.self, "\(variable)=\(value)") {
                    try settings.apply(environment: [variable: value])
                }
                do {
                    try settings.apply(environment: [variable: value])
                } catch let problem as GatewaySettings.Problem {
                    #expect(problem.setting == setting)
                }
                #expect(settings.security.apiKeyNames == .gravitee)
            }
        }
        var settings = GatewaySettings()
        #expect(throws: GatewaySettings.Problem.self) { try settings.apply(environment: ["SLUICE_PORT": "many"]) }
        // A drain time no deadline can be made of is refused, not trapped on at start.
        for value in ["inf", "nan", "1e300", "-1", "86401"] {
            #expect(throws: GatewaySettings.Problem.self, "\(value)") {
                try settings.apply(environment: ["SLUICE_DRAIN_TIMEOUT_SECONDS": value])
            }
        }
        try settings.apply(environment: ["SLUICE_DRAIN_TIMEOUT_SECONDS": "2.5"])
        #expect(settings.drainTimeoutSeconds == 2.5)
    }

    @Test("nodeId and metrics.port from the environment; the node's name defaults to the host and port")
    func nodeAndMetrics() throws {
        var settings = GatewaySettings()
        #expect(settings.metricsPort == nil)
        #expect(settings.effectiveNodeID == "\(ProcessInfo.processInfo.hostName):8082")
        try settings.apply(environment: ["SLUICE_NODE_ID": "gw-1", "SLUICE_METRICS_PORT": "18082"])
        #expect(settings.nodeID == "gw-1")
        #expect(settings.effectiveNodeID == "gw-1")
        #expect(settings.metricsPort == 18082)
        #expect(throws: GatewaySettings.Problem.self) { try settings.apply(environment: ["SLUICE_NODE_ID": ""]) }
        #expect(throws: GatewaySettings.Problem.self) { try settings.apply(environment: ["SLUICE_METRICS_PORT": "-1"]) }
    }

    @Test("store.* settings from a file and the environment; no store by default; postgres needs a URL")
    func storeSettings() throws {
        var settings = GatewaySettings()
        #expect(settings.store.kind == .none && settings.store.problem() == nil)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        store:
          kind: sqlite
          dataDirectory: /var/lib/sluice
          pollIntervalMs: 250
          eventRetentionSeconds: 3600
        """.write(to: file, atomically: true, encoding: .utf8)
        try settings.apply(file: file.path)
        #expect(settings.store.kind == .sqlite && settings.store.dataDirectory == "/var/lib/sluice")
        #expect(settings.store.pollIntervalMs == 250 && settings.store.eventRetentionSeconds == 3600)
        try settings.apply(environment: ["SLUICE_STORE_KIND": "postgres", "SLUICE_STORE_SHARED_RATE_LIMITS": "false"])
        #expect(settings.store.kind == .postgres && !settings.store.sharedRateLimits)
        #expect(settings.store.problem()?.setting == "store.postgresUrl")
        try settings.apply(environment: ["SLUICE_STORE_POSTGRES_URL": "postgres://gw@db/sluice"])
        #expect(settings.store.postgresURL == "postgres://gw@db/sluice" && settings.store.problem() == nil)
        for (variable, value) in [
            ("SLUICE_STORE_KIND", "mongo"), ("SLUICE_STORE_POLL_INTERVAL_MS", "10"),
            ("SLUICE_STORE_SHARED_RATE_LIMITS", "maybe"), ("SLUICE_STORE_DATA_DIRECTORY", ""),
            ("SLUICE_STORE_EVENT_RETENTION_SECONDS", "5"),
        ] {
            #expect(throws: GatewaySettings.Problem.self, "\(variable)") {
                try settings.apply(environment: [variable: value])
            }
        }
    }

    @Test("role and management.* settings: gateway alone without a store, both with one; bad values refused")
    func managementSettings() throws {
        var settings = GatewaySettings()
        #expect(settings.effectiveRole == .gateway && settings.management.port == 8083)
        settings.store.kind = .sqlite
        #expect(settings.effectiveRole == .all)
        try settings.apply(environment: [
            "SLUICE_ROLE": "management", "SLUICE_MANAGEMENT_PORT": "9083",
            "SLUICE_MANAGEMENT_ADMIN_TOKEN": "a-long-enough-admin-token", "SLUICE_MANAGEMENT_HOST": "127.0.0.1",
            "SLUICE_MANAGEMENT_MAX_REQUEST_BODY_BYTES": "65536",
        ])
        #expect(settings.effectiveRole == .management && settings.management.port == 9083)
        #expect(settings.management.adminToken == "a-long-enough-admin-token")
        #expect(settings.management.host == "127.0.0.1" && settings.management.maxRequestBodyBytes == 65536)
        for (variable, value) in [
            ("SLUICE_ROLE", "both"), ("SLUICE_MANAGEMENT_PORT", "-1"), ("SLUICE_MANAGEMENT_ADMIN_TOKEN", "short"),
            ("SLUICE_MANAGEMENT_MAX_REQUEST_BODY_BYTES", "10"),
        ] {
            #expect(throws: GatewaySettings.Problem.self, "\(variable)") {
                try settings.apply(environment: [variable: value])
            }
        }
    }
}

import Foundation
import SluiceCore
import Testing

/// The answers of ``CORSConfiguration``, as Gravitee's CORS processors give them.
@Suite("CORS configuration")
struct CorsConfigurationTests {
    static func read(_ json: String) throws -> (CORSConfiguration?, [Diagnostic]) {
        guard case .object(let object) = try JSONValue.parse(json: Data(json.utf8)) else { return (nil, []) }
        var diagnostics = DiagnosticCollector()
        let configuration = CORSConfiguration.parse(
            ConfigurationReader(object, at: JSONPath("cors")), diagnostics: &diagnostics)
        return (configuration, diagnostics.diagnostics)
    }

    @Test("fields are read with Gravitee's names and defaults; nothing when not enabled")
    func reading() throws {
        let (configuration, diagnostics) = try Self.read(
            #"{ "enabled": true, "allowOrigin": ["https://A.test", "https://.*\\.b\\.test"], "allowMethods": ["get", "GET", "post"], "allowHeaders": ["X-A", "x-a"], "extra": 1 }"#
        )
        let cors = try #require(configuration)
        #expect(cors.allowMethods == ["GET", "POST"])
        #expect(cors.allowHeaders == ["X-A"])
        #expect(cors.maxAge == nil)
        #expect(!cors.allowCredentials)
        #expect(!cors.runPolicies)
        #expect(cors.originPatterns.map(\.source) == [#"https://.*\.b\.test"#])
        #expect(diagnostics.map(\.path) == ["cors.extra"])
        #expect(try Self.read(#"{ "allowOrigin": ["*"] }"#).0 == nil)
        #expect(try Self.read(#"{ "enabled": "false" }"#).0 == nil)
    }

    @Test("origins: literal (any case), patterns (whole origin), '*'; none without an Origin")
    func origins() {
        let cors = CORSConfiguration(
            allowOrigin: ["https://a.test", "https://[a-z]+\\.b\\.test"], allowMethods: ["GET"])
        #expect(cors.allows(origin: "https://a.test"))
        #expect(cors.allows(origin: "HTTPS://A.TEST"))
        #expect(cors.allows(origin: "https://x.b.test"))
        #expect(!cors.allows(origin: "https://x.b.test.evil"))
        #expect(!cors.allows(origin: "https://1.b.test"))
        #expect(!cors.allows(origin: nil))
        #expect(CORSConfiguration(allowOrigin: ["*"]).allows(origin: "null"))
    }

    @Test("a preflight's answer lists the methods and headers; its refusals say why")
    func preflight() throws {
        let cors = CORSConfiguration(
            allowOrigin: ["https://a.test"], allowMethods: ["GET", "PUT"], allowHeaders: ["X-A"],
            exposeHeaders: ["X-E"], allowCredentials: true, maxAge: 0, allowPrivateNetwork: true)
        let request: MessageHeaders = [
            ("Origin", "https://a.test"), ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "x-a"), ("Access-Control-Request-Private-Network", "true"),
        ]
        #expect(CORSConfiguration.isPreflight(method: "OPTIONS", headers: request))
        #expect(!CORSConfiguration.isPreflight(method: "GET", headers: request))
        #expect(!CORSConfiguration.isPreflight(method: "OPTIONS", headers: [("Origin", "https://a.test")]))
        let answer = try cors.preflight(request).get()
        #expect(answer["Access-Control-Allow-Origin"] == ["https://a.test"])
        #expect(answer["Access-Control-Allow-Methods"] == ["GET, PUT"])
        #expect(answer["Access-Control-Allow-Headers"] == ["X-A"])
        #expect(answer["Access-Control-Max-Age"] == ["0"])
        #expect(answer["Access-Control-Allow-Credentials"] == ["true"])
        #expect(answer["Access-Control-Allow-Private-Network"] == ["true"])
        #expect(answer["Access-Control-Expose-Headers"] == ["X-E"])
        #expect(answer["Vary"] == ["Origin"])

        func refusal(_ headers: MessageHeaders, _ configuration: CORSConfiguration = cors) -> GatewayError? {
            if case .failure(let error) = configuration.preflight(headers) { return error }
            return nil
        }
        let foreign = refusal([("Origin", "https://b.test"), ("Access-Control-Request-Method", "GET")])
        #expect(foreign?.status == 400)
        #expect(foreign?.key == "CORS_PREFLIGHT_FAILED")
        #expect(foreign?.message == "Origin 'https://b.test' is not allowed")
        let method = refusal([("Origin", "https://a.test"), ("Access-Control-Request-Method", "DELETE")])
        #expect(method?.message == "Request method 'DELETE' is not allowed")
        let header = refusal([
            ("Origin", "https://a.test"), ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-a, x-b"),
        ])
        #expect(header?.message == "Request headers 'x-a, x-b' are not valid")
        // No method listed: Gravitee refuses every preflight.
        let noMethods = CORSConfiguration(allowOrigin: ["*"])
        #expect(refusal([("Origin", "https://a.test"), ("Access-Control-Request-Method", "GET")], noMethods) != nil)
    }

    @Test("answers: CORS headers replace the backend's for an allowed origin, are removed for another; Vary kept")
    func answers() {
        let cors = CORSConfiguration(allowOrigin: ["https://a.test"], exposeHeaders: ["X-E", "X-F"])
        var allowed: MessageHeaders = [("Access-Control-Allow-Origin", "*"), ("Vary", "Accept-Encoding")]
        cors.apply(to: &allowed, origin: "https://a.test")
        #expect(allowed["Access-Control-Allow-Origin"] == ["https://a.test"])
        #expect(allowed["Access-Control-Allow-Credentials"] == [])
        #expect(allowed["Access-Control-Expose-Headers"] == ["X-E, X-F"])
        #expect(allowed["Vary"] == ["Accept-Encoding", "Origin"])
        var foreign: MessageHeaders = [
            ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true"), ("Vary", "origin"),
        ]
        cors.apply(to: &foreign, origin: "https://b.test")
        #expect(foreign["Access-Control-Allow-Origin"] == [])
        #expect(foreign["Access-Control-Allow-Credentials"] == [])
        #expect(foreign["Vary"] == ["origin"])
    }
}

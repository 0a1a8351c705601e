import Foundation
import SluiceCore
import Testing

@Suite("definition loading and validation")
struct DefinitionLoaderTests {
    /// A catalog that knows one entrypoint and one endpoint, with a connector check, for these tests.
    static let catalog: DefinitionCatalog = {
        var catalog = DefinitionCatalog()
        catalog.register(
            DefinitionCatalog.EntrypointSpec(type: "http-get", supportedQoS: [.auto, .atLeastOnce]) {
                object, path, diagnostics in
                _ = ConfigurationReader(object, at: path).integer("messagesLimitCount", &diagnostics, minimum: 1)
            }
        )
        catalog.register(
            DefinitionCatalog.EndpointSpec(type: "mock") { endpoint, _, diagnostics in
                _ = ConfigurationReader(endpoint.configuration, at: endpoint.path.key("configuration"))
                    .integer("messageInterval", &diagnostics, minimum: 1)
            }
        )
        catalog.securityTypes = ["key-less"]
        return catalog
    }()

    static let valid = """
        {"id":"a","name":"A","definitionVersion":"4.0.0","type":"message",
         "listeners":[{"type":"http","paths":[{"path":"/a/"}],"entrypoints":[{"type":"http-get","qos":"AT_LEAST_ONCE"}]}],
         "endpointGroups":[{"name":"g","type":"mock","loadBalancer":{"type":"round-robin"},
           "endpoints":[{"name":"e","type":"mock","weight":1,"configuration":{"messageInterval":"10"}}]}]}
        """

    @Test("a valid definition loads, with paths normalised and lenient scalars read")
    func valid() throws {
        let loaded = DefinitionLoader(catalog: Self.catalog).load(data: Data(Self.valid.utf8), source: "a.json")
        #expect(loaded.isDeployable, "\(loaded.diagnostics)")
        let definition = try #require(loaded.definition)
        #expect(definition.httpPaths.map(\.path) == ["/a"])
        #expect(definition.httpEntrypoints.first?.qos == .atLeastOnce)
        #expect(definition.endpointGroups.first?.loadBalancer == .roundRobin)
    }

    @Test("the same definition in YAML loads the same")
    func yaml() throws {
        let yaml = """
            id: a
            name: A
            definitionVersion: 4.0.0
            type: message
            listeners:
              - type: http
                paths: [{ path: /a }]
                entrypoints: [{ type: http-get }]
            endpointGroups:
              - name: g
                type: mock
                endpoints: [{ name: e, type: mock, configuration: { messageInterval: 10 } }]
            """
        let loaded = DefinitionLoader(catalog: Self.catalog).load(data: Data(yaml.utf8), source: "a.yaml")
        #expect(loaded.isDeployable, "\(loaded.diagnostics)")
        #expect(loaded.definition?.httpPaths.first?.path == "/a")
    }

    @Test("numbers past Int64 where strings are read (id, name, versions) are read as text, never trap")
    func hugeNumbersAsStrings() throws {
        // A fuzzer's definition: every string field a number no Int64 holds, or a whole one that fits.
        let text = """
            {"id":-2.1245694839189778e+206,"name":1e300,"apiVersion":9223372036854775807,"definitionVersion":"4.0.0",
             "type":"message",
             "listeners":[{"type":"http","paths":[{"path":"/a"}],"entrypoints":[{"type":"http-get"}]}],
             "endpointGroups":[{"name":-1e19,"type":"mock","endpoints":[{"name":"e","type":"mock"}]}]}
            """
        let loaded = DefinitionLoader(catalog: Self.catalog).load(data: Data(text.utf8), source: "huge.json")
        let definition = try #require(loaded.definition, "\(loaded.diagnostics)")
        #expect(definition.id == "-2.1245694839189778e+206")
        #expect(definition.name == "1e+300")
        #expect(definition.endpointGroups.first?.name == "-1e+19")
        #expect(JSONValue.numberText(3) == "3")
        #expect(JSONValue.numberText(-3.5) == "-3.5")
        #expect(JSONValue.numberText(9.0e18) == "9000000000000000000")
        #expect(JSONValue.numberText(.infinity) == "inf")
    }

    @Test("every problem is reported, each with its JSON path")
    func everyProblem() {
        let text = """
            {"id":"a/b","definitionVersion":"2.0.0","type":"message",
             "listeners":[{"type":"http","paths":[{"path":"/x y"}],
                           "entrypoints":[{"type":"http-get","qos":"sometimes","configuration":{"messagesLimitCount":0}},
                                          {"type":"webhook"}]},
                          {"type":"tcp","entrypoints":[{"type":"tcp-proxy"}]}],
             "endpointGroups":[{"name":"g","type":"mock","endpoints":[
                 {"name":"e","type":"mock","configuration":{"messageInterval":-5}},
                 {"name":"e","type":"kafka"}]},
               {"name":"k","type":"kafka","endpoints":[{"name":"k1"}]}],
             "flows":[{"request":[{"policy":"rate-limit"}]}],
             "plans":[{"id":"p","security":{"type":"jwt"},"status":"sideways"}]}
            """
        let loaded = DefinitionLoader(catalog: Self.catalog).load(data: Data(text.utf8), source: "bad.json")
        #expect(!loaded.isDeployable)
        let lines = Set(loaded.errors.map(\.description))
        let expected: [String] = [
            "definitionVersion: definition version '2.0.0' is not supported; only v4 definitions are",
            "id: must not contain '/' or whitespace",
            "listeners[0].paths[0].path: '/x y' is not a valid context path",
            "listeners[0].entrypoints[0].qos: must be one of none, auto, at-most-once, at-least-once",
            "listeners[1].type: listener type 'tcp' is not supported",
            "endpointGroups[0].endpoints[1].name: endpoint name 'e' is used twice",
            "endpointGroups[0].endpoints[1].type: endpoint type 'kafka' differs from its group's type 'mock'",
            "plans[0].status: must be one of STAGING, PUBLISHED, DEPRECATED, CLOSED",
        ]
        for line in expected { #expect(lines.contains(line), "missing: \(line)\n got: \(lines.sorted())") }
    }

    @Test("type-specific problems are reported once the structure is sound")
    func catalogProblems() {
        let text = """
            {"id":"a","type":"message",
             "listeners":[{"type":"http","paths":[{"path":"/a"}],
                           "entrypoints":[{"type":"http-get","qos":"none","configuration":{"messagesLimitCount":0}},{"type":"webhook"}]}],
             "endpointGroups":[{"name":"g","type":"mock","endpoints":[{"name":"e","configuration":{"messageInterval":-5}}]},
                               {"name":"k","type":"kafka","endpoints":[{"name":"k1"}]}],
             "flows":[{"request":[{"policy":"rate-limit"}]}],
             "plans":[{"id":"p","security":{"type":"jwt"}}]}
            """
        let loaded = DefinitionLoader(catalog: Self.catalog).load(data: Data(text.utf8), source: "bad.json")
        let lines = Set(loaded.errors.map(\.description))
        let expected = [
            "listeners[0].entrypoints[0].qos: qos 'none' is not supported by entrypoint 'http-get' (supported: auto, at-least-once)",
            "listeners[0].entrypoints[0].configuration.messagesLimitCount: must be a positive integer",
            "listeners[0].entrypoints[1].type: entrypoint type 'webhook' is not supported",
            "endpointGroups[0].endpoints[0].configuration.messageInterval: must be a positive integer",
            "endpointGroups[1].type: endpoint type 'kafka' is not supported",
            "flows[0].request[0].policy: policy type 'rate-limit' is not supported",
            "plans[0].security.type: plan security type 'jwt' is not supported",
        ]
        for line in expected { #expect(lines.contains(line), "missing: \(line)\n got: \(lines.sorted())") }
        #expect(loaded.errors.count == expected.count, "\(lines.sorted())")
    }

    @Test(
        "syntax errors and non-objects are refused with a clear message",
        arguments: [
            ("{\"id\": ", "a.json", "SYNTAX_ERROR"), ("[1,2]", "a.json", "INVALID_VALUE"),
            ("id: [unclosed", "a.yaml", "SYNTAX_ERROR"),
            ("", "a.json", "SYNTAX_ERROR"), ("\u{FF}\u{FE}", "a.json", "SYNTAX_ERROR"),
        ])
    func unreadable(text: String, name: String, code: String) {
        let loaded = DefinitionLoader(catalog: Self.catalog).load(data: Data(text.utf8), source: name)
        #expect(!loaded.isDeployable)
        #expect(loaded.errors.first?.code == code, "\(loaded.errors)")
    }

    @Test("listener paths normalise and refuse what cannot be a context path")
    func paths() {
        #expect(APIDefinitionReader.normaliseListenerPath("test/") == "/test")
        #expect(APIDefinitionReader.normaliseListenerPath("/") == "/")
        #expect(APIDefinitionReader.normaliseListenerPath("/a//b") == nil)
        #expect(APIDefinitionReader.normaliseListenerPath("/a/../b") == nil)
        #expect(APIDefinitionReader.normaliseListenerPath("/a?b") == nil)
        #expect(APIDefinitionReader.normaliseListenerPath("  ") == nil)
    }
}

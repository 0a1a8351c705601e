import Foundation
import Testing

@testable import SluiceCore

@Suite("access file reader")
struct AccessFileReaderTests {
    static let yaml = """
        applications:
          - id: app-1
            name: Shop
            clientId: shop-client
        subscriptions:
          - id: sub-1
            application: app-1
            api: orders
            plan: orders-key
            status: accepted
            startingAt: 2026-01-01T00:00:00Z
            endingAt: "2027-01-01T00:00:00.500Z"
            metadata: { team: payments, tier: 2 }
        apiKeys:
          - key: "clear-key"
            subscriptions: [sub-1]
            expireAt: 2030-01-01T00:00:00Z
          - keyHash: "sha256:\(String(repeating: "ab", count: 32))"
            subscriptions: [sub-1]
            revoked: true
        """

    @Test("a YAML file reads every field; a clear key is kept only as its SHA-256 digest")
    func readsYAML() throws {
        let (data, diagnostics) = AccessFileReader().read(data: Data(Self.yaml.utf8), source: "shop.access.yaml")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let access = try #require(data)
        #expect(access.applications == [.init(id: "app-1", name: "Shop", clientID: "shop-client")])
        let subscription = try #require(access.subscriptions.first)
        #expect(subscription.status == .accepted)
        #expect(subscription.startingAt == Date(timeIntervalSince1970: 1_767_225_600))
        #expect(subscription.endingAt == Date(timeIntervalSince1970: 1_798_761_600.5))
        #expect(subscription.metadata == ["team": "payments", "tier": "2"])
        #expect(access.apiKeys.count == 2)
        // The SHA-256 of "clear-key", computed independently (printf 'clear-key' | sha256sum).
        #expect(
            access.apiKeys[0].hash.description
                == "sha256:2d3556e2be089a2e7b53f86b640d23464170fbbc38ef97cd077c989319fc1741")
        #expect(access.apiKeys[0].hash.bytes.count == 32)
        #expect(access.apiKeys[1].revoked)
        #expect(access.apiKeys[1].hash.description == "sha256:" + String(repeating: "ab", count: 32))
    }

    @Test("the SHA-256 digest matches the standard test vector")
    func digest() {
        #expect(
            APIKeyHash(key: "abc").description
                == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            APIKeyHash(text: "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")?
                .constantTimeEquals(APIKeyHash(key: "abc")) == true)
        #expect(!APIKeyHash(key: "abd").constantTimeEquals(APIKeyHash(key: "abc")))
        #expect(APIKeyHash(text: "sha256:1234") == nil)
        #expect(APIKeyHash(text: "md5:" + String(repeating: "0", count: 64)) == nil)
    }

    @Test(
        "every problem is reported with its path and the file is refused whole",
        arguments: [
            (#"[1, 2]"#, ""),
            (
                #"{ "subscriptions": [{ "id": "s", "application": "a", "api": "x", "plan": "p", "status": "WAITING" }] }"#,
                "subscriptions[0].status"
            ),
            (
                #"{ "subscriptions": [{ "id": "s", "application": "a", "plan": "p", "status": "ACCEPTED" }] }"#,
                "subscriptions[0].api"
            ),
            (
                #"{ "subscriptions": [{ "id": "s", "application": "a", "api": "x", "plan": "p", "status": "ACCEPTED", "startingAt": "yesterday" }] }"#,
                "subscriptions[0].startingAt"
            ),
            (
                #"{ "subscriptions": [{ "id": "s", "application": "a", "api": "x", "plan": "p", "status": "ACCEPTED", "startingAt": "2026-02-01T00:00:00Z", "endingAt": "2026-01-01T00:00:00Z" }] }"#,
                "subscriptions[0].endingAt"
            ),
            (#"{ "apiKeys": [{ "subscriptions": ["s"] }] }"#, "apiKeys[0].key"),
            (#"{ "apiKeys": [{ "key": "", "subscriptions": ["s"] }] }"#, "apiKeys[0].key"),
            (#"{ "apiKeys": [{ "key": "k", "keyHash": "sha256:00", "subscriptions": ["s"] }] }"#, "apiKeys[0]"),
            (#"{ "apiKeys": [{ "keyHash": "sha256:xyz", "subscriptions": ["s"] }] }"#, "apiKeys[0].keyHash"),
            (#"{ "apiKeys": [{ "key": "k" }] }"#, "apiKeys[0].subscriptions"),
            (#"{ "apiKeys": [{ "key": "k", "subscriptions": ["s"], "expireAt": "soon" }] }"#, "apiKeys[0].expireAt"),
            (#"{ "applications": [{ "id": "a" }, { "id": "a" }] }"#, "applications[1].id"),
        ])
    func refused(json: String, path: String) {
        let (data, diagnostics) = AccessFileReader().read(data: Data(json.utf8), source: "bad.access.json")
        #expect(data == nil)
        #expect(diagnostics.contains { $0.severity == .error && $0.path == path }, "\(diagnostics)")
    }

    @Test("a syntax error is reported, not thrown")
    func syntax() {
        let (data, diagnostics) = AccessFileReader().read(data: Data("{ \"apiKeys\": [".utf8), source: "x.access.json")
        #expect(data == nil)
        #expect(diagnostics.first?.code == "SYNTAX_ERROR")
        let (yamlData, yamlDiagnostics) = AccessFileReader().read(data: Data("a: [b".utf8), source: "x.access.yml")
        #expect(yamlData == nil)
        #expect(yamlDiagnostics.first?.code == "SYNTAX_ERROR")
    }

    @Test("access files are recognized by name and never listed as API definitions")
    func recognized() throws {
        #expect(AccessFileReader.isAccessFile("/x/shop.access.yaml"))
        #expect(AccessFileReader.isAccessFile("/x/shop.ACCESS.json"))
        #expect(!AccessFileReader.isAccessFile("/x/access.json"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-access-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["api.json", "shop.access.yaml", "other.access.json"] {
            try "{}".write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        #expect(try DefinitionLoader.definitionFiles(at: directory.path).map(\.lastPathComponent) == ["api.json"])
        #expect(
            try DefinitionLoader.accessFiles(at: directory.path).map(\.lastPathComponent)
                == ["other.access.json", "shop.access.yaml"])
    }

    @Test("cross-file references that lead nowhere are warnings")
    func crossCheck() {
        let (data, _) = AccessFileReader().read(
            .object(
                JSONObject([
                    (
                        "apiKeys",
                        .array([
                            .object(JSONObject([("key", .string("k")), ("subscriptions", .array([.string("gone")]))]))
                        ])
                    )
                ])))
        let warnings = AccessFileReader.crossCheck(data ?? AccessData())
        #expect(warnings.count == 1)
        #expect(warnings.first?.severity == .warning)
    }
}

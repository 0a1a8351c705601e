import Foundation
import GatewayTestSupport
import PostgresTestSupport
import ServiceLifecycle
import SluiceCore
import SluiceGateway
import SluiceManagement
import SluiceStore
import Testing

/// `GET /management/v2/status` and the page at `/status`: the store's APIs with the live numbers of the gateway in
/// the same process, exact after known traffic; the same without a gateway; who may read it.
@Suite("management API: status")
struct StatusAPITests {
    /// A key-less message API on the embedded log, reading from the latest message.
    static func keyless(_ id: String, name: String) -> String {
        """
        {"id":"\(id)","name":\(JSONString.quoted(name)),"apiVersion":"1.0","definitionVersion":"4.0.0","type":"message",
         "listeners":[{"type":"http","paths":[{"path":"/\(id)"}],
           "entrypoints":[{"type":"http-post"},{"type":"sse"}]}],
         "endpointGroups":[{"name":"log","type":"inmemory","endpoints":[{"name":"\(id)-log","type":"inmemory",
           "weight":1,"inheritConfiguration":false,"configuration":{"topic":"\(id)"}}]}],
         "plans":[{"id":"\(id)-open","name":"Open","security":{"type":"key-less"},"mode":"STANDARD","status":"PUBLISHED"}],
         "flows":[],"analytics":{"enabled":false}}
        """
    }

    /// A gateway and the management API in this process on one SQLite file, as `serve --role all` runs them.
    static func withGatewayAndManagement(_ body: (ManagementNode, Gateway) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-status-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let managementStore = try await SQLiteManagementStore(directory: directory.path)
        let gatewayStore = try await SQLiteManagementStore(directory: directory.path)
        let running = try RunningGateway.start(store: gatewayStore) {
            $0.store.pollIntervalMs = 200
            $0.role = .all
        }
        let node: ManagementNode
        do {
            node = try await ManagementNode.start(store: managementStore, gateway: running.gateway)
        } catch {
            await running.stop()
            throw error
        }
        do {
            await running.gateway.storeSync?.waitForFirstSync()
            try await body(node, running.gateway)
        } catch {
            await node.stop()
            await running.stop()
            throw error
        }
        await node.stop()
        await running.stop()
    }

    static func api(_ status: Answer, _ id: String) -> JSONValue? {
        status.json?["apis"]?.arrayValue?.first { $0["id"]?.stringValue == id }
    }

    static func counter(_ api: JSONValue?, _ name: String) -> Int? {
        guard case .number(let value)? = api?["counters"]?[name] else { return nil }
        return Int(value)
    }

    @Test("after known traffic through the gateway in the same process, the status counts it exactly")
    func liveNumbers() async throws {
        try await Self.withGatewayAndManagement { node, gateway in
            let imported = try await node.call(
                .POST, "\(environment)/apis/_import/definition", body: Self.keyless("quotes", name: "Quotes"))
            try #require(imported.status == 201, "\(imported.text)")
            #expect(try await node.call(.POST, "\(environment)/apis/quotes/_start").status == 204)
            try await eventually(within: .seconds(10), "the gateway serves the API") {
                Self.api(try await node.call(.GET, "/management/v2/status"), "quotes")?["deployed"] == .bool(true)
            }
            let port = await gateway.port()
            let stream = try await RawSSEClient.open(port: port, path: "/quotes")
            try await eventually(within: .seconds(10), "the stream is counted as open") {
                Self.api(try await node.call(.GET, "/management/v2/status"), "quotes")?["openConnections"]
                    == .number(1)
            }
            for body in ["one", "two", "three"] {
                let answer = try await httpCall(.POST, "http://127.0.0.1:\(port)/quotes", body: body)
                #expect(answer.status == 202)
            }
            let events = try await stream.messages(3)
            #expect(events.map(\.data) == ["one", "two", "three"])
            try await eventually(within: .seconds(10), "the messages sent are counted") {
                Self.counter(Self.api(try await node.call(.GET, "/management/v2/status"), "quotes"), "messagesOut") == 3
            }
            let status = try await node.call(.GET, "/management/v2/status")
            #expect(status.status == 200)
            #expect(status.json?["gateway"]?["running"] == .bool(true))
            #expect(status.json?["gateway"]?["openStreams"] == .number(1))
            let quotes = try #require(Self.api(status, "quotes"), "\(status.text)")
            #expect(quotes["name"] == .string("Quotes"))
            #expect(quotes["state"] == .string("STARTED"))
            #expect(quotes["openConnections"] == .number(1))
            #expect(
                quotes["entrypoints"]?.jsonText()
                    == #"[{"type":"http-post","paths":["/quotes"]},{"type":"sse","paths":["/quotes"]}]"#)
            #expect(quotes["endpoints"]?.jsonText() == #"[{"name":"quotes-log","type":"inmemory","state":"embedded"}]"#)
            // Three publishes of 3 + 3 + 5 bytes; the stream is not answered yet, so it is no request yet.
            #expect(
                quotes["counters"]?.jsonText()
                    == #"{"requests":3,"serverErrors":0,"rateLimited":0,"messagesIn":3,"messagesOut":3,"messageErrors":0,"messagesFiltered":0,"bytesIn":11,"bytesOut":\#(Self.counter(quotes, "bytesOut") ?? -1)}"#
            )
            #expect((Self.counter(quotes, "bytesOut") ?? 0) > 0)
            let taken = try #require(status.json?["timestampMs"])
            guard case .number(let milliseconds) = taken else { throw HarnessFailure("no timestampMs") }
            #expect(abs(milliseconds / 1000 - Date().timeIntervalSince1970) < 600)

            await stream.close()
            try await eventually(within: .seconds(10), "the closed stream is counted as a request, and not open") {
                let quotes = Self.api(try await node.call(.GET, "/management/v2/status"), "quotes")
                return quotes?["openConnections"] == .number(0) && Self.counter(quotes, "requests") == 4
            }
            // An API in the store that the gateway does not serve is listed, without states.
            let stopped = try await node.call(
                .POST, "\(environment)/apis/_import/definition", body: Self.keyless("idle", name: "Idle"))
            try #require(stopped.status == 201)
            let idle = try #require(Self.api(try await node.call(.GET, "/management/v2/status"), "idle"))
            #expect(idle["state"] == .string("STOPPED"))
            #expect(idle["deployed"] == .bool(false))
            #expect(idle["endpoints"]?.jsonText() == #"[{"name":"idle-log","type":"inmemory","state":null}]"#)
            #expect(Self.counter(idle, "requests") == 0)
        }
    }

    @Test("without a gateway in the process: the store's APIs, and no live numbers, said so")
    func managementOnly() async throws {
        try await withManagement(.sqlite) { node in
            let imported = try await node.call(
                .POST, "\(environment)/apis/_import/definition", body: Self.keyless("quotes", name: "Quotes"))
            try #require(imported.status == 201)
            #expect(try await node.call(.POST, "\(environment)/apis/quotes/_start").status == 204)
            let status = try await node.call(.GET, "/management/v2/status")
            #expect(status.status == 200)
            #expect(status.header("Content-Type") == "application/json")
            let gateway = try #require(status.json?["gateway"])
            #expect(gateway["running"] == .bool(false))
            #expect(
                gateway["detail"]?.stringValue
                    == "no gateway runs in this process (serve --role management): APIs from the store, no live numbers"
            )
            #expect(gateway["openStreams"] == nil)
            let quotes = try #require(Self.api(status, "quotes"))
            #expect(quotes["state"] == .string("STARTED"))
            #expect(quotes["deployed"] == .bool(false))
            #expect(quotes["counters"] == .null)
            #expect(quotes["openConnections"] == .null)
            #expect(quotes["entrypoints"]?.arrayValue?.count == 2)
            #expect(status.json?["truncated"] == .bool(false))
        }
    }

    @Test("the status needs a token; a READ_ONLY user may read it; the page is open and holds no data")
    func access() async throws {
        try await withManagement(.sqlite) { node in
            let imported = try await node.call(
                .POST, "\(environment)/apis/_import/definition",
                body: Self.keyless("secretive", name: "Secretive <b>name</b>"))
            try #require(imported.status == 201)
            let anonymous = try await node.call(.GET, "/management/v2/status", token: nil)
            #expect(anonymous.status == 401)
            #expect(anonymous.isProblem)
            #expect(anonymous.header("WWW-Authenticate") == #"Bearer realm="sluice-management""#)
            #expect(try await node.call(.GET, "/management/v2/status", token: "not-a-valid-token").status == 401)
            let user = try await node.call(
                .POST, "\(organization)/users", body: #"{"name":"watcher","role":"READ_ONLY"}"#)
            try #require(user.status == 201, "\(user.text)")
            let readOnly = try await node.call(.GET, "/management/v2/status", token: user["token"])
            #expect(readOnly.status == 200)
            #expect(Self.api(readOnly, "secretive")?["name"] == .string("Secretive <b>name</b>"))

            let page = try await node.call(.GET, "/status", token: nil)
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Content-Security-Policy")?.hasPrefix("default-src 'none'") == true)
            #expect(page.header("Cache-Control") == "no-store")
            #expect(page.text.hasPrefix("<!DOCTYPE html>"))
            #expect(page.text.contains("/management/v2/status"))
            #expect(!page.text.contains("secretive") && !page.text.contains("Secretive"))
            // Nothing fetched from elsewhere: the one absolute URL is SVG's namespace.
            #expect(page.text.components(separatedBy: "http://").count == 2)
            #expect(page.text.contains("\"http://www.w3.org/2000/svg\""))
            #expect(!page.text.contains("https://"))
        }
    }
}

import Foundation
import SluiceCore
import Testing

@Suite("hot reload")
struct HotReloadTests {
    static func content(_ gateway: TestGateway, _ path: String) async throws -> String? {
        let response = try await httpCall(.GET, "\(gateway.baseURL)\(path)", headers: [("Accept", "application/json")])
        guard response.status == 200 else { return "status \(response.status)" }
        return response.json?["items"]?.arrayValue?.first?["content"]?.stringValue
    }

    static func mock(_ id: String, _ path: String, _ content: String) -> String {
        Definitions.mock(
            id: id, path: path, interval: 5, content: content,
            entrypoints: """
                [{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }, { "type": "sse" }]
                """)
    }

    @Test("adding, changing and removing a file redeploys within 2 seconds, without dropping another API's streams")
    func addChangeRemove() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            // A live SSE stream on another API, which must survive every reload below.
            let stream = try await SSEReader.open("\(gateway.baseURL)/events")
            _ = try await stream.next()

            try gateway.write("added.json", Self.mock("added", "/added", "v1"))
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) { try await Self.content(gateway, "/added") == "v1" }
            )

            try gateway.write("added.json", Self.mock("added", "/added", "v2"))
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) { try await Self.content(gateway, "/added") == "v2" }
            )

            try gateway.remove("added.json")
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) {
                    try await Self.content(gateway, "/added") == "status 404"
                })

            _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "still here")
            let event = try await within(.seconds(5)) { try await stream.nextMessage() }
            #expect(event?.data == "still here")
        }
    }

    @Test("a change that does not validate leaves the API running as it was")
    func invalidChangeKeepsOld() async throws {
        try await withGateway(["api.json": Self.mock("api", "/api", "good")]) { (gateway: TestGateway) async throws in
            #expect(try await Self.content(gateway, "/api") == "good")
            try gateway.write("api.json", #"{ "id": "api", "type": "message", "listeners": [] "#)
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await Self.content(gateway, "/api") == "good")
            try gateway.write("api.json", Self.mock("api", "/api", "fixed"))
            #expect(
                try await gateway.eventually(timeout: .seconds(2)) {
                    try await Self.content(gateway, "/api") == "fixed"
                })
        }
    }

    @Test("removing an API ends its open streams with goaway")
    func removalEndsStreams() async throws {
        try await withGateway([
            "api.json": Self.mock("api", "/api", "x").replacingOccurrences(
                of: "\"messageInterval\": 5", with: "\"messageInterval\": 100000")
        ]) { (gateway: TestGateway) async throws in
            let stream = try await SSEReader.open("\(gateway.baseURL)/api")
            _ = try await stream.next()
            try gateway.remove("api.json")
            let goaway = try await within(.seconds(5)) { try await stream.next() }
            #expect(goaway?.event == "goaway")
            #expect(try await within(.seconds(5)) { try await stream.next() } == nil)
        }
    }

    @Test("two files claiming the same context path: the second is refused, the first keeps serving")
    func pathConflict() async throws {
        try await withGateway(["a.json": Self.mock("a", "/same", "first")]) { (gateway: TestGateway) async throws in
            try gateway.write("b.json", Self.mock("b", "/same", "second"))
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await Self.content(gateway, "/same") == "first")
            #expect(gateway.gateway.registry.deployedIDs == ["a"])
        }
    }
}

import Foundation
import NIOHTTP1
import SluiceCore
import SluiceStore
import Testing

/// Bad input on every route gives a 4xx problem detail, never a 500: malformed JSON, wrong types, unknown ids,
/// stale versions, oversize bodies, bad paging.
@Suite("management API: bad input")
struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var method: HTTPMethod
        var path: String
        var body: String?
        var headers: [(String, String)] = []
        var status: Int
        /// Problem paths the answer must list (each of them).
        var paths: [String] = []
        var description: String { name }
    }

    static let e = environment
    static let sub = "\(environment)/apis/known/subscriptions/known-sub"
    static let big = String(repeating: "x", count: 80_000)

    static let cases: [Case] = [
        // Malformed JSON and wrong top-level types, on every route that takes a body.
        Case(
            name: "create API: not JSON", method: .POST, path: "\(e)/apis", body: "{not json", status: 400, paths: [""]),
        Case(name: "create API: empty body", method: .POST, path: "\(e)/apis", body: "", status: 400),
        Case(name: "import: an array", method: .POST, path: "\(e)/apis/_import/definition", body: "[1,2]", status: 400),
        Case(
            name: "import: a string", method: .POST, path: "\(e)/apis/_import/definition", body: "\"api\"", status: 400),
        Case(
            name: "import: truncated", method: .POST, path: "\(e)/apis/_import/definition", body: #"{"id":"a","#,
            status: 400),
        Case(
            name: "import: nested too deep", method: .POST, path: "\(e)/apis/_import/definition",
            body: String(repeating: "[", count: 5000), status: 400),
        Case(
            name: "import: every problem with its path", method: .POST, path: "\(e)/apis/_import/definition",
            body:
                #"{"id":"bad","type":"message","listeners":[{"type":"http","paths":[{"path":"/bad"}],"entrypoints":[{"type":"webhook"},{"type":"sse","configuration":{"heartbeatIntervalInMs":-1}}]}],"endpointGroups":[{"name":"g","type":"mock","endpoints":[{"name":"e","type":"mock","configuration":{"messageInterval":0}}]}]}"#,
            status: 400,
            paths: [
                "listeners[0].entrypoints[0].type", "listeners[0].entrypoints[1].configuration.heartbeatIntervalInMs",
                "endpointGroups[0].endpoints[0].configuration.messageInterval",
            ]),
        Case(
            name: "import: id of the wrong type", method: .POST, path: "\(e)/apis", body: #"{"id":7,"type":"message"}"#,
            status: 400, paths: ["id"]),
        Case(
            name: "import: exported shape with a bad api", method: .POST, path: "\(e)/apis/_import/definition",
            body: #"{"api":{"id":"w","type":"bogus"},"plans":[]}"#, status: 400, paths: ["api.type"]),
        Case(
            name: "update from definition: every problem with its path", method: .PUT,
            path: "\(e)/apis/known/_import/definition",
            body:
                #"{"api":{"id":"other","type":"message","listeners":[{"type":"http","paths":[{"path":"/known"}],"entrypoints":[{"type":"webhook"}]}]},"plans":[7,{"id":"p","name":"A","security":{"type":"KEY_LESS"}},{"id":"p","name":"B","security":{"type":"KEY_LESS"}}]}"#,
            status: 400, paths: ["api.id", "plans[0]", "plans[2].id", "api.listeners[0].entrypoints[0].type"]),
        Case(
            name: "update from definition: an array", method: .PUT, path: "\(e)/apis/known/_import/definition",
            body: "[]", status: 400),
        Case(
            name: "update from definition: unknown API", method: .PUT, path: "\(e)/apis/nope/_import/definition",
            body: "{}", status: 404),
        Case(
            name: "update API: wrong id", method: .PUT, path: "\(e)/apis/known", body: #"{"id":"other","name":"n"}"#,
            status: 400, paths: ["id"]),
        Case(
            name: "update API: name of the wrong type", method: .PUT, path: "\(e)/apis/known", body: #"{"name":5}"#,
            status: 400, paths: ["name"]),
        Case(name: "update API: not JSON", method: .PUT, path: "\(e)/apis/known", body: "nope", status: 400),
        Case(
            name: "deploy: label of the wrong type", method: .POST, path: "\(e)/apis/known/deployments",
            body: #"{"deploymentLabel":[]}"#, status: 400, paths: ["deploymentLabel"]),
        Case(
            name: "plan: no name, bad mode, bad validation", method: .POST, path: "\(e)/apis/known/plans",
            body: #"{"mode":"SIDEWAYS","validation":"MAYBE","security":{"type":"api-key"}}"#, status: 400,
            paths: ["name", "mode", "validation"]),
        Case(
            name: "plan: security of the wrong type", method: .POST, path: "\(e)/apis/known/plans",
            body: #"{"name":"p","security":"api-key"}"#, status: 400, paths: ["security"]),
        Case(name: "plan: not JSON", method: .PUT, path: "\(e)/apis/known/plans/known-key", body: "{]", status: 400),
        Case(
            name: "application: no name", method: .POST, path: "\(e)/applications", body: "{}", status: 400,
            paths: ["name"]),
        Case(
            name: "application: settings of the wrong type", method: .POST, path: "\(e)/applications",
            body: #"{"name":"a","settings":{"app":"x"}}"#, status: 400, paths: ["settings.app"]),
        Case(
            name: "application: id with a slash", method: .POST, path: "\(e)/applications",
            body: #"{"id":"a/b","name":"a"}"#, status: 400, paths: ["id"]),
        Case(name: "application: not JSON", method: .PUT, path: "\(e)/applications/known-app", body: "[", status: 400),
        Case(
            name: "subscription: missing ids", method: .POST, path: "\(e)/apis/known/subscriptions", body: "{}",
            status: 400, paths: ["planId", "applicationId"]),
        Case(
            name: "subscription: unknown plan", method: .POST, path: "\(e)/apis/known/subscriptions",
            body: #"{"planId":"nope","applicationId":"known-app"}"#, status: 400, paths: ["planId"]),
        Case(
            name: "subscription: unknown application", method: .POST, path: "\(e)/apis/known/subscriptions",
            body: #"{"planId":"known-key","applicationId":"nope"}"#, status: 400, paths: ["applicationId"]),
        Case(
            name: "subscription: wrong types", method: .POST, path: "\(e)/apis/known/subscriptions",
            body:
                #"{"planId":1,"applicationId":true,"metadata":{"a":1},"startingAt":"yesterday","consumerConfiguration":"x"}"#,
            status: 400, paths: ["planId", "applicationId", "metadata.a", "startingAt", "consumerConfiguration"]),
        Case(
            name: "subscription: ends before it starts", method: .PUT, path: sub,
            body: #"{"startingAt":"2030-01-02T00:00:00Z","endingAt":"2030-01-01T00:00:00Z"}"#, status: 400,
            paths: ["endingAt"]),
        Case(
            name: "subscription action: body not an object", method: .POST, path: "\(sub)/_pause", body: "[]",
            status: 400),
        Case(
            name: "subscription action: not allowed now", method: .POST, path: "\(sub)/_accept", status: 400,
            paths: ["status"]),
        Case(
            name: "renew: custom key too short", method: .POST, path: "\(sub)/api-keys/_renew",
            body: #"{"customApiKey":"short"}"#, status: 400, paths: ["customApiKey"]),
        Case(
            name: "accept: dates that are no dates", method: .POST, path: "\(sub)/_accept",
            body: #"{"startingAt":"soon","endingAt":[]}"#, status: 400, paths: ["startingAt", "endingAt"]),
        Case(
            name: "API key: expiry that is no date", method: .PUT, path: "\(sub)/api-keys/known-key-id",
            body: #"{"expireAt":"tomorrow"}"#, status: 400, paths: ["expireAt"]),
        Case(
            name: "API key: not JSON", method: .PUT, path: "\(sub)/api-keys/known-key-id", body: "{x", status: 400),
        Case(
            name: "user: bad role and name", method: .POST, path: "\(organization)/users",
            body: #"{"name":"","role":"ROOT"}"#, status: 400, paths: ["name", "role"]),
        // Unknown ids on every kind of route.
        Case(name: "unknown API", method: .GET, path: "\(e)/apis/nope", status: 404),
        Case(name: "unknown API: update", method: .PUT, path: "\(e)/apis/nope", body: "{}", status: 404),
        Case(name: "unknown API: delete", method: .DELETE, path: "\(e)/apis/nope", status: 404),
        Case(name: "unknown API: start", method: .POST, path: "\(e)/apis/nope/_start", status: 404),
        Case(name: "unknown API: stop", method: .POST, path: "\(e)/apis/nope/_stop", status: 404),
        Case(name: "unknown API: deploy", method: .POST, path: "\(e)/apis/nope/deployments", status: 404),
        Case(name: "unknown API: export", method: .GET, path: "\(e)/apis/nope/_export/definition", status: 404),
        Case(name: "unknown API: asyncapi", method: .GET, path: "/management/v2/apis/nope/asyncapi", status: 404),
        Case(name: "unknown API: plans", method: .GET, path: "\(e)/apis/nope/plans", status: 404),
        Case(name: "unknown API: subscriptions", method: .GET, path: "\(e)/apis/nope/subscriptions", status: 404),
        Case(name: "unknown plan", method: .GET, path: "\(e)/apis/known/plans/nope", status: 404),
        Case(name: "unknown plan: publish", method: .POST, path: "\(e)/apis/known/plans/nope/_publish", status: 404),
        Case(name: "unknown plan: close", method: .POST, path: "\(e)/apis/known/plans/nope/_close", status: 404),
        Case(name: "unknown plan: delete", method: .DELETE, path: "\(e)/apis/known/plans/nope", status: 404),
        Case(name: "unknown application", method: .GET, path: "\(e)/applications/nope", status: 404),
        Case(name: "unknown application: delete", method: .DELETE, path: "\(e)/applications/nope", status: 404),
        Case(name: "unknown application: keys", method: .GET, path: "\(e)/applications/nope/api-keys", status: 404),
        Case(name: "unknown subscription", method: .GET, path: "\(e)/apis/known/subscriptions/nope", status: 404),
        Case(
            name: "unknown subscription: close", method: .POST, path: "\(e)/apis/known/subscriptions/nope/_close",
            status: 404),
        Case(
            name: "unknown subscription: keys", method: .GET, path: "\(e)/apis/known/subscriptions/nope/api-keys",
            status: 404),
        Case(name: "unknown key: revoke", method: .POST, path: "\(sub)/api-keys/nope/_revoke", status: 404),
        Case(name: "unknown key: reactivate", method: .POST, path: "\(sub)/api-keys/nope/_reactivate", status: 404),
        Case(name: "unknown key: update", method: .PUT, path: "\(sub)/api-keys/nope", body: "{}", status: 404),
        Case(
            name: "unknown subscription: renew", method: .POST,
            path: "\(e)/apis/known/subscriptions/nope/api-keys/_renew", status: 404),
        Case(name: "unknown user", method: .GET, path: "\(organization)/users/nope", status: 404),
        Case(
            name: "unknown user: renew token", method: .POST, path: "\(organization)/users/nope/_renew-token",
            status: 404),
        Case(name: "unknown route", method: .GET, path: "/management/v2/nothing-here", status: 404),
        Case(name: "wrong method", method: .PATCH, path: "\(e)/apis/known", body: "{}", status: 404),
        // Stale versions.
        Case(
            name: "stale version: update API", method: .PUT, path: "\(e)/apis/known",
            body: #"{"name":"n","type":"message"}"#, headers: [("If-Match", "\"99\"")], status: 412),
        Case(
            name: "stale version: start", method: .POST, path: "\(e)/apis/known/_start",
            headers: [("If-Match", "\"99\"")], status: 412),
        Case(
            name: "stale version: delete application", method: .DELETE, path: "\(e)/applications/known-app",
            headers: [("If-Match", "\"99\"")], status: 412),
        Case(
            name: "stale version: a tag that is no version", method: .POST, path: "\(sub)/_pause",
            headers: [("If-Match", "\"abc\"")], status: 412),
        Case(
            name: "stale version: update API key", method: .PUT, path: "\(sub)/api-keys/known-key-id",
            body: #"{"expireAt":null}"#, headers: [("If-Match", "\"99\"")], status: 412),
        Case(
            name: "stale version: publish", method: .POST, path: "\(e)/apis/known/plans/known-staging/_publish",
            headers: [("If-Match", "W/\"42\"")], status: 412),
        // Oversize bodies.
        Case(
            name: "oversize: import", method: .POST, path: "\(e)/apis/_import/definition",
            body: #"{"name":"\#(big)"}"#, status: 413),
        Case(
            name: "oversize: application", method: .POST, path: "\(e)/applications", body: #"{"name":"\#(big)"}"#,
            status: 413),
        // Bad paging and filters.
        Case(name: "page 0", method: .GET, path: "\(e)/apis?page=0", status: 400, paths: ["page"]),
        Case(name: "perPage too large", method: .GET, path: "\(e)/apis?perPage=5000", status: 400, paths: ["perPage"]),
        Case(
            name: "page not a number", method: .GET, path: "\(e)/applications?page=abc&perPage=-1", status: 400,
            paths: ["page", "perPage"]),
        Case(
            name: "page too far", method: .GET, path: "\(e)/audit?page=9223372036854775807", status: 400,
            paths: ["page"]),
        Case(name: "unknown state", method: .GET, path: "\(e)/apis?state=RUNNING", status: 400, paths: ["state"]),
        Case(
            name: "unknown status", method: .GET, path: "\(e)/apis/known/plans?statuses=PUBLISHED,NOPE", status: 400,
            paths: ["statuses"]),
        Case(
            name: "unknown security type", method: .GET,
            path: "\(e)/apis/known/plans?securities=API_KEY,CARRIER_PIGEON",
            status: 400, paths: ["securities"]),
        Case(
            name: "revoked not a boolean", method: .GET, path: "\(sub)/api-keys?revoked=maybe", status: 400,
            paths: ["revoked"]),
        Case(
            name: "unknown resource type", method: .GET, path: "\(e)/audit?resourceType=CAT", status: 400,
            paths: ["resourceType"]),
    ]

    @Test("every bad request is a 4xx problem detail", arguments: cases)
    func badInput(_ item: Case) async throws {
        try await withManagement(.sqlite, maxBodyBytes: 64 * 1024) { node in
            try await Self.seed(node)
            let answer = try await node.call(item.method, item.path, body: item.body, headers: item.headers)
            #expect(answer.status == item.status, "\(item.name): \(answer.status) \(answer.text)")
            #expect(answer.isProblem, "\(item.name): not a problem detail: \(answer.headers) \(answer.text)")
            for path in item.paths {
                #expect(answer.problemPaths.contains(path), "\(item.name): no problem at '\(path)': \(answer.text)")
            }
        }
    }

    /// An API `known` with a published api-key plan, a staging plan, an application, an accepted subscription and
    /// a key of it, `known-key-id`.
    static func seed(_ node: ManagementNode) async throws {
        let api = try await node.call(.POST, "\(environment)/apis/_import/definition", body: definition("known"))
        try #require(api.status == 201, "\(api.text)")
        let staging = try await node.call(
            .POST, "\(environment)/apis/known/plans",
            body: #"{"id":"known-staging","name":"S","security":{"type":"KEY_LESS"}}"#)
        try #require(staging.status == 201, "\(staging.text)")
        try #require(
            try await node.call(.POST, "\(environment)/applications", body: #"{"id":"known-app","name":"App"}"#).status
                == 201)
        let subscription = try await node.call(
            .POST, "\(environment)/apis/known/subscriptions",
            body: #"{"id":"known-sub","planId":"known-key","applicationId":"known-app"}"#)
        try #require(subscription.status == 201, "\(subscription.text)")
        _ = try await node.store.createAPIKey(
            ManagedAPIKey(
                id: "known-key-id", applicationID: "known-app", hash: APIKeyHash(key: "known-key-value"),
                subscriptions: ["known-sub"]), context: ChangeContext())
    }
}

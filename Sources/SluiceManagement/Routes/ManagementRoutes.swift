import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import SluiceGateway
import SluiceStore

/// The management API's routes over a management store. Paths follow Gravitee's v2 management API
/// (`/management/v2/environments/DEFAULT/apis/{apiId}/plans/{planId}/_publish`, …).
struct ManagementRoutes: Sendable {
    let store: any ManagementStore
    let loader: DefinitionLoader
    let callbackPolicy: WebhookCallbackPolicy
    let maxBodyBytes: Int
    let users: UserTokenCache
    let logger: Logger
    /// The gateway of this process, whose live numbers the status shows; nil with `serve --role management`.
    let gateway: Gateway?

    static let environment = "/management/v2/environments/DEFAULT"
    static let organization = "/management/v2/organizations/DEFAULT"

    func register(on router: Router<ManagementRequestContext>) {
        router.get("/management/openapi.json") { _, _ in
            Self.json(OpenAPIDocument.document, contentType: "application/vnd.oai.openapi+json")
        }
        registerAPIs(on: router)
        registerPlans(on: router)
        registerApplications(on: router)
        registerSubscriptions(on: router)
        registerAPIKeys(on: router)
        registerUsers(on: router)
        registerAudit(on: router)
        registerStatus(on: router)
    }

    // MARK: Helpers

    static func json(
        _ value: JSONValue, status: HTTPResponse.Status = .ok, version: Int64? = nil, location: String? = nil,
        contentType: String = "application/json"
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        if let version { headers[.eTag] = ETag.text(version) }
        if let location { headers[.location] = location }
        return Response(
            status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonText())))
    }

    /// 204 without a body; `version`, when given, in the ETag.
    static func noContent(version: Int64? = nil) -> Response {
        var headers = HTTPFields()
        if let version { headers[.eTag] = ETag.text(version) }
        return Response(status: .noContent, headers: headers)
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    /// Runs a change of a resource at `current` version: a request that names another version (If-Match) fails
    /// with 412 before anything changes; a store conflict is 412 when the request named a version, else 409.
    func changing<T>(
        _ request: Request, current: Int64, _ change: (Int64) async throws -> T
    ) async throws -> T {
        let expected = ETag.expectedVersion(request)
        if let expected, expected != current { throw ManagementProblem.versionMismatch(current: current) }
        do {
            return try await change(expected ?? current)
        } catch let error as StoreError {
            throw ManagementProblem.from(store: error, versionGiven: expected != nil)
        }
    }

    /// Fails with 412 when the request names a version (If-Match) other than `current`: checked before anything
    /// else, so that a stale client learns first that it must read again.
    func precondition(_ request: Request, current: Int64) throws {
        if let expected = ETag.expectedVersion(request), expected != current {
            throw ManagementProblem.versionMismatch(current: current)
        }
    }

    /// The version a deletion must match: what If-Match names, else any.
    func deleting(_ request: Request, _ delete: (Int64?) async throws -> Void) async throws {
        let expected = ETag.expectedVersion(request)
        do {
            try await delete(expected)
        } catch let error as StoreError {
            throw ManagementProblem.from(store: error, versionGiven: expected != nil)
        }
    }

    func parameter(_ context: ManagementRequestContext, _ name: String) throws -> String {
        guard let value = context.parameters.get(name), !value.isEmpty else {
            throw ManagementProblem.invalid(path: name, "is required")
        }
        return value
    }

    func problems(_ diagnostics: [Diagnostic], prefix: String = "") -> [ManagementProblem.FieldProblem] {
        diagnostics.filter { $0.severity == .error }.map {
            .init(
                path: prefix.isEmpty ? $0.path : ($0.path.isEmpty ? prefix : "\(prefix).\($0.path)"),
                message: $0.message)
        }
    }

    /// A custom API key or bearer token given by a client: 8 to 256 printable ASCII characters, no spaces.
    static func checkSecret(_ text: String, path: String, into body: inout RequestBody) -> Bool {
        guard (8...256).contains(text.utf8.count),
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            body.problem(path, "must be 8 to 256 printable ASCII characters without spaces")
            return false
        }
        return true
    }

    /// A new secret (API key or bearer token): 32 random bytes, hexadecimal.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

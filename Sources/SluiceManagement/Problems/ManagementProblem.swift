import Foundation
public import HTTPTypes
public import Hummingbird
import NIOCore
import SluiceCore
import SluiceStore

/// An RFC 9457 problem detail: what the management API answers to every request it cannot carry out, as
/// `application/problem+json`. Validation problems list every problem found, each with the JSON path it is about.
public struct ManagementProblem: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    /// A problem with one field of a request: a JSON path (`listeners[0].entrypoints[1].type`, `page`) and what is
    /// wrong there.
    public struct FieldProblem: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var message: String

        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }

        public var description: String { "\(path.isEmpty ? "$" : path): \(message)" }
    }

    public var status: HTTPResponse.Status
    /// A stable code, also the end of the problem's `type` URI: `invalid-request`, `not-found`, `version-mismatch`…
    public var code: String
    public var title: String
    public var detail: String
    public var problems: [FieldProblem]
    /// Extra response headers (`WWW-Authenticate` on a 401, `ETag` on a 412).
    public var headers: HTTPFields

    public init(
        status: HTTPResponse.Status, code: String, title: String, detail: String, problems: [FieldProblem] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.problems = problems
        self.headers = headers
    }

    /// The problem type URI: `urn:sluice:problem:<code>`.
    public var type: String { "urn:sluice:problem:\(code)" }

    public var description: String {
        var text = "\(status.code) \(title): \(detail)"
        for problem in problems { text += "\n  \(problem)" }
        return text
    }

    /// The problem detail as JSON.
    func body(instance: String?) -> JSONValue {
        var object = JSONObject([
            ("type", .string(type)), ("title", .string(title)), ("status", .number(Double(status.code))),
            ("detail", .string(detail)),
        ])
        if let instance { object["instance"] = .string(instance) }
        if !problems.isEmpty {
            object["problems"] = .array(
                problems.map { .object(JSONObject([("path", .string($0.path)), ("message", .string($0.message))])) })
        }
        return .object(object)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(instance: request.uri.path)
    }

    func response(instance: String?) -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(
            status: status, headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(string: body(instance: instance).jsonText())))
    }

    // MARK: The problems the API answers

    static func invalid(_ detail: String, _ problems: [FieldProblem]) -> ManagementProblem {
        ManagementProblem(
            status: .badRequest, code: "invalid-request", title: "The request is not valid", detail: detail,
            problems: problems)
    }

    static func invalid(path: String, _ message: String) -> ManagementProblem {
        invalid("\(path.isEmpty ? "the body" : path): \(message)", [.init(path: path, message: message)])
    }

    static func notFound(_ detail: String) -> ManagementProblem {
        ManagementProblem(status: .notFound, code: "not-found", title: "Not found", detail: detail)
    }

    static func conflict(_ detail: String) -> ManagementProblem {
        ManagementProblem(status: .conflict, code: "conflict", title: "Conflict", detail: detail)
    }

    static func versionMismatch(current: Int64?) -> ManagementProblem {
        var headers = HTTPFields()
        if let current { headers[.eTag] = ETag.text(current) }
        return ManagementProblem(
            status: .preconditionFailed, code: "version-mismatch", title: "The resource has changed",
            detail: current.map {
                "If-Match does not name the current version (\(ETag.text($0))): read the resource again and retry"
            } ?? "If-Match does not name the current version: read the resource again and retry",
            headers: headers)
    }

    /// What a store error means to a client. `versionGiven`: the request named a version (If-Match), so a
    /// version conflict is a failed precondition (412) rather than a plain conflict (409).
    static func from(store error: StoreError, versionGiven: Bool = false) -> ManagementProblem {
        switch error.code {
        case .notFound:
            return notFound(error.message)
        case .conflict:
            if versionGiven, error.currentVersion != nil { return versionMismatch(current: error.currentVersion) }
            return conflict(error.message)
        case .invalid:
            return invalid(error.message, error.problems.map { FieldProblem(path: $0.path, message: $0.message) })
        case .unavailable:
            return ManagementProblem(
                status: .serviceUnavailable, code: "store-unavailable", title: "The management store is unavailable",
                detail: "the management store cannot be reached; try again later")
        }
    }

    /// The problem for an error thrown by a route or by the framework.
    static func from(_ error: any Error) -> ManagementProblem? {
        switch error {
        case let problem as ManagementProblem:
            return problem
        case let error as StoreError:
            return from(store: error)
        case is NIOTooManyBytesError:
            return ManagementProblem(
                status: .contentTooLarge, code: "body-too-large", title: "Content too large",
                detail: "the request body is larger than the management API accepts")
        case let error as HTTPError:
            let code: String
            let detail: String
            switch error.status {
            case .notFound:
                code = "route-not-found"
                detail = "no route matches this method and path"
            case .contentTooLarge:
                code = "body-too-large"
                detail = "the request body is larger than the management API accepts"
            default:
                code = "http-\(error.status.code)"
                detail = error.body ?? error.status.reasonPhrase
            }
            return ManagementProblem(
                status: error.status, code: code, title: error.status.reasonPhrase, detail: detail,
                headers: error.headers)
        default:
            return nil
        }
    }
}

/// Entity tags of the management API: a resource's store version, quoted (`"3"`).
enum ETag {
    static func text(_ version: Int64) -> String { "\"\(version)\"" }

    /// The version an `If-Match` header names: nil for none or `*`; a version that no resource has (-1) for a
    /// tag that is not one of ours, so that it fails as a stale one would.
    static func expectedVersion(_ request: Request) -> Int64? {
        guard let value = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            return nil
        }
        if value == "*" { return nil }
        var tag = Substring(value)
        if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
        if tag.hasPrefix("\""), tag.hasSuffix("\""), tag.count >= 2 { tag = tag.dropFirst().dropLast() }
        return Int64(tag) ?? -1
    }
}

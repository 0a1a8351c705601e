import HTTPTypes
import HummingbirdCore
import NIOHTTP1
import SluiceCore

/// The gateway's API-key names, ready for requests.
struct APIKeyFields: Sendable {
    let header: HTTPField.Name
    /// The header's name in lower case, for the event loop's header lookups.
    let lowercasedHeader: String
    let queryParameter: String

    /// Names that ``GatewaySettings`` validated; a header name that is not one falls back to Gravitee's.
    init(_ names: SecurityChain.APIKeyNames) {
        let header = HTTPField.Name(names.header) ?? HTTPField.Name(SecurityChain.apiKeyHeader)!
        self.header = header
        self.lowercasedHeader = header.canonicalName
        self.queryParameter = names.queryParameter
    }

    static let gravitee = APIKeyFields(.gravitee)
}

extension SecurityChain.Credentials {
    /// The credentials of a request on the async path.
    init(fields: HTTPFields, uri: URI, method: String = "GET", names: APIKeyFields) {
        let query = uri.query != nil ? uri.queryParameters : nil
        self.init(
            apiKey: fields[names.header].map { $0[...] } ?? query?[names.queryParameter[...]],
            bearerToken: Self.bearer(fields[values: .authorization]) ?? query?["access_token"],
            selectionScope: {
                Self.selectionScope(
                    method: method, path: uri.path, query: uri.query,
                    headers: fields.map { (name: $0.name.canonicalName, value: $0.value) })
            }
        )
    }

    /// The credentials of a request on the event-loop path; `selectable` says whether a plan has a selection rule
    /// to evaluate (else no `#request` scope is prepared).
    init(head: HTTPRequestHead, names: APIKeyFields, selectable: Bool = true) {
        let query = head.uri.utf8.contains(UInt8(ascii: "?")) ? URI(head.uri).queryParameters : nil
        var scope: (@Sendable () -> ExpressionScope)?
        if selectable {
            scope = {
                let uri = URI(head.uri)
                return Self.selectionScope(
                    method: head.method.rawValue, path: uri.path, query: uri.query,
                    headers: head.headers.map { (name: $0.name, value: $0.value) })
            }
        }
        self.init(
            apiKey: head.headers.first(name: names.lowercasedHeader).map { $0[...] }
                ?? query?[names.queryParameter[...]],
            bearerToken: Self.bearer(head.headers) ?? query?["access_token"],
            selectionScope: scope
        )
    }

    /// `#request` as a plan's selection rule sees it: `headers` (Gravitee's multi-valued, case-insensitive
    /// headers), `params` (each query parameter's values), `path`, `method`; `#context.attributes` is empty
    /// (nothing has set one before the plan is chosen).
    static func selectionScope(
        method: String, path: String, query: String?, headers: [(name: String, value: String)]
    ) -> ExpressionScope {
        var params: [String: ExpressionValue] = [:]
        if let query {
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
                let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
                if case .list(var values) = params[name] {
                    values.append(.string(value))
                    params[name] = .list(values)
                } else {
                    params[name] = .list([.string(value)])
                }
            }
        }
        return ExpressionScope([
            "request": .map([
                "headers": .object(HeadersExpressionObject(headers)), "params": .map(params), "path": .string(path),
                "method": .string(method),
            ]),
            "context": .map(["attributes": .map([:])]),
        ])
    }

    /// The token of the first `Authorization` value that uses the Bearer scheme (Gravitee reads the first
    /// such header); empty when the scheme has no token.
    static func bearer(_ values: some Sequence<String>) -> Substring? {
        for value in values {
            if let token = bearer(value) { return token }
        }
        return nil
    }

    /// The token of the first `Authorization` header of `headers` that uses the Bearer scheme, read in place.
    static func bearer(_ headers: HTTPHeaders) -> Substring? {
        for (name, value) in headers where name.utf8.count == 13 && name.lowercased() == "authorization" {
            if let token = bearer(value) { return token }
        }
        return nil
    }

    /// The token of one `Authorization` value if it uses the Bearer scheme (case-insensitive, ASCII).
    static func bearer(_ value: String) -> Substring? {
        let utf8 = value.utf8
        guard utf8.count >= 6 else { return nil }
        var index = utf8.startIndex
        for expected in "bearer".utf8 {
            // ASCII letters only: setting 0x20 lower-cases a letter and leaves no other byte equal to one.
            guard utf8[index] | 0x20 == expected else { return nil }
            index = utf8.index(after: index)
        }
        let rest = value[index...]
        // "Bearer" alone, or followed by whitespace: "Bearerabc" is another scheme.
        guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
        return rest.drop(while: { $0 == " " || $0 == "\t" })
    }
}

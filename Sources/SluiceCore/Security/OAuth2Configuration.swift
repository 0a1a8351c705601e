public import Foundation

/// An `oauth2` resource of an API definition: the authorization server a plan asks about tokens (RFC 7662
/// introspection), with the fields of Gravitee's generic OAuth2 resource and its defaults.
public struct OAuth2ResourceConfiguration: Sendable {
    public var name: String
    /// `authorizationServerUrl` + `/` + `introspectionEndpoint`, duplicate slashes removed (as Gravitee builds it).
    public var introspectionURL: String
    /// GET or POST. Default: GET.
    public var method: String
    /// Send `clientId:clientSecret` in a header. Default: true, `Authorization: Basic …`.
    public var useClientAuthorizationHeader: Bool
    public var clientAuthorizationHeaderName: String
    public var clientAuthorizationHeaderScheme: String
    public var clientID: String
    public var clientSecret: String
    /// How the token travels to the server: a query parameter (default, `token`), a header, or a form body (POST).
    public var tokenQueryParameter: String?
    public var tokenHeader: String?
    public var tokenFormField: String?
    /// Default: a space.
    public var scopeSeparator: String
    /// The claim naming the user. Default: `sub`.
    public var userClaim: String
    /// `http.connectTimeout`, `http.readTimeout`. Default: 5000 ms and 10000 ms.
    public var connectTimeoutMs: Int64
    public var readTimeoutMs: Int64

    public static let type = "oauth2"

    public static func parse(
        _ resource: APIDefinition.Resource, diagnostics: inout DiagnosticCollector
    ) -> OAuth2ResourceConfiguration? {
        let path = resource.path.key("configuration")
        let reader = ConfigurationReader(resource.configuration, at: path)
        let errorsBefore = diagnostics.diagnostics.count { $0.severity == .error }
        reader.warnUnknown(
            [
                "authorizationServerUrl", "introspectionEndpoint", "introspectionEndpointMethod",
                "useClientAuthorizationHeader", "clientAuthorizationHeaderName", "clientAuthorizationHeaderScheme",
                "clientId", "clientSecret", "tokenIsSuppliedByQueryParam", "tokenQueryParamName",
                "tokenIsSuppliedByHttpHeader", "tokenHeaderName", "tokenIsSuppliedByFormUrlEncoded",
                "tokenFormUrlEncodedName", "scopeSeparator", "userClaim", "userInfoEndpoint", "userInfoEndpointMethod",
                "authorizationServerMetadataEndpoint", "useSystemProxy", "http", "proxy", "ssl",
            ], &diagnostics)
        let server = reader.string("authorizationServerUrl", &diagnostics) ?? ""
        let endpoint = reader.string("introspectionEndpoint", &diagnostics) ?? "/oauth/check_token"
        let url = Self.joined(server, endpoint)
        let lowered = url.lowercased()
        if !(lowered.hasPrefix("http://") || lowered.hasPrefix("https://")) || URL(string: url)?.host == nil {
            diagnostics.error(
                path.key("authorizationServerUrl"),
                "the introspection URL '\(url)' is not an http:// or https:// URL")
        }
        let method = (reader.string("introspectionEndpointMethod", &diagnostics) ?? "GET").uppercased()
        if method != "GET" && method != "POST" {
            diagnostics.error(path.key("introspectionEndpointMethod"), "must be GET or POST")
        }
        let byQuery = reader.bool("tokenIsSuppliedByQueryParam", &diagnostics) ?? true
        let byHeader = reader.bool("tokenIsSuppliedByHttpHeader", &diagnostics) ?? false
        let byForm = reader.bool("tokenIsSuppliedByFormUrlEncoded", &diagnostics) ?? false
        let headerName = reader.string("tokenHeaderName", &diagnostics)
        if byHeader, headerName?.isEmpty ?? true {
            diagnostics.error(path.key("tokenHeaderName"), "is required when tokenIsSuppliedByHttpHeader is true")
        }
        if byForm, method != "POST" {
            diagnostics.error(
                path.key("tokenIsSuppliedByFormUrlEncoded"), "a form body needs introspectionEndpointMethod POST")
        }
        if !byQuery, !byHeader, !(byForm && method == "POST") {
            diagnostics.error(path, "the token reaches the server by no way: enable the query, the header or the form")
        }
        let http = reader.object("http", &diagnostics)
        let configuration = OAuth2ResourceConfiguration(
            name: resource.name, introspectionURL: url, method: method,
            useClientAuthorizationHeader: reader.bool("useClientAuthorizationHeader", &diagnostics) ?? true,
            clientAuthorizationHeaderName: reader.string("clientAuthorizationHeaderName", &diagnostics)
                .flatMap { $0.isEmpty ? nil : $0 } ?? "Authorization",
            clientAuthorizationHeaderScheme: reader.string("clientAuthorizationHeaderScheme", &diagnostics)
                .flatMap { $0.isEmpty ? nil : $0 } ?? "Basic",
            clientID: reader.string("clientId", &diagnostics) ?? "",
            clientSecret: reader.string("clientSecret", &diagnostics) ?? "",
            tokenQueryParameter: byQuery ? (reader.string("tokenQueryParamName", &diagnostics) ?? "token") : nil,
            tokenHeader: byHeader ? headerName : nil,
            tokenFormField: byForm && method == "POST"
                ? (reader.string("tokenFormUrlEncodedName", &diagnostics) ?? "token") : nil,
            scopeSeparator: reader.string("scopeSeparator", &diagnostics).flatMap { $0.isEmpty ? nil : $0 } ?? " ",
            userClaim: reader.string("userClaim", &diagnostics).flatMap { $0.isEmpty ? nil : $0 } ?? "sub",
            connectTimeoutMs: http.integer("connectTimeout", &diagnostics, minimum: 1) ?? 5000,
            readTimeoutMs: http.integer("readTimeout", &diagnostics, minimum: 1) ?? 10000)
        let errorsAfter = diagnostics.diagnostics.count { $0.severity == .error }
        return errorsAfter == errorsBefore ? configuration : nil
    }

    /// `server + "/" + endpoint` with runs of slashes collapsed, except the ones after the scheme; an empty server
    /// leaves the endpoint as the whole URL.
    static func joined(_ server: String, _ endpoint: String) -> String {
        let raw = server.isEmpty ? endpoint : server + "/" + endpoint
        guard let schemeEnd = raw.range(of: "://") else { return raw }
        var rest = ""
        var previousSlash = false
        for character in raw[schemeEnd.upperBound...] {
            if character == "/" && previousSlash { continue }
            previousSlash = character == "/"
            rest.append(character)
        }
        return String(raw[..<schemeEnd.upperBound]) + rest
    }
}

/// An `oauth2` plan's `security.configuration`, as Gravitee's OAuth2 policy reads it.
public struct OAuth2PlanConfiguration: Sendable {
    /// The name of the API's `oauth2` resource to ask.
    public var resource: String
    public var checkRequiredScopes: Bool
    public var requiredScopes: [String]
    /// All required scopes (true), or at least one (false). Default: true.
    public var modeStrict: Bool
    /// Pass the `Authorization` header on to the endpoint. Default: true.
    public var propagateAuthHeader: Bool
    /// Put the introspection answer into the request's attributes as `oauth.payload`. Default: false.
    public var extractPayload: Bool

    public static func parse(
        _ object: JSONObject, at path: JSONPath, resources: [APIDefinition.Resource],
        diagnostics: inout DiagnosticCollector
    ) -> OAuth2PlanConfiguration? {
        let reader = ConfigurationReader(object, at: path)
        let errorsBefore = diagnostics.diagnostics.count { $0.severity == .error }
        reader.warnUnknown(
            [
                "oauthResource", "oauthCacheResource", "checkRequiredScopes", "requiredScopes", "modeStrict",
                "propagateAuthHeader", "extractPayload", "addWwwAuthenticateHeader",
            ], &diagnostics)
        let name = reader.string("oauthResource", &diagnostics, required: true) ?? ""
        if !name.isEmpty
            && !resources.contains(where: { $0.name == name && $0.type == OAuth2ResourceConfiguration.type })
        {
            diagnostics.error(
                path.key("oauthResource"), "names '\(name)', which is no oauth2 resource of this API",
                code: "UNKNOWN_REFERENCE")
        }
        if resources.contains(where: { $0.name == name && !$0.enabled }) {
            diagnostics.error(path.key("oauthResource"), "names '\(name)', which is disabled")
        }
        var scopes: [String] = []
        for (item, itemPath) in reader.array("requiredScopes", &diagnostics) {
            if let scope = item.stringValue {
                scopes.append(scope)
            } else {
                diagnostics.error(itemPath, "must be a string")
            }
        }
        let configuration = OAuth2PlanConfiguration(
            resource: name, checkRequiredScopes: reader.bool("checkRequiredScopes", &diagnostics) ?? false,
            requiredScopes: scopes, modeStrict: reader.bool("modeStrict", &diagnostics) ?? true,
            propagateAuthHeader: reader.bool("propagateAuthHeader", &diagnostics) ?? true,
            extractPayload: reader.bool("extractPayload", &diagnostics) ?? false)
        let errorsAfter = diagnostics.diagnostics.count { $0.severity == .error }
        return errorsAfter == errorsBefore ? configuration : nil
    }
}

/// What an authorization server said about a token (RFC 7662), read as Gravitee's OAuth2 policy reads it.
public struct IntrospectionAnswer: Sendable {
    /// `active`; an answer without the field counts as active (Gravitee's generic resource does the same).
    public var active: Bool
    public var payload: JSONObject
    /// The raw answer, for `oauth.payload`.
    public var text: String

    /// Reads a 200 answer's body; nil when it is not a JSON object (the server is then treated as failing).
    public init?(body: String) {
        guard let value = try? JSONValue.parse(json: Data(body.utf8)), case .object(let object) = value else {
            return nil
        }
        self.payload = object
        self.text = body
        switch object["active"] {
        case nil, .null?: active = true
        case .bool(let flag)?: active = flag
        case .string(let text)?: active = text.lowercased() == "true"
        case .number(let number)?: active = number != 0
        default: active = false
        }
    }

    /// `client_id`, else the (first) `aud`.
    public var clientID: String? {
        if let id = payload["client_id"]?.stringValue, !id.isEmpty { return id }
        switch payload["aud"] {
        case .string(let aud)?: return aud.isEmpty ? nil : aud
        case .array(let items)?: return items.first?.stringValue
        default: return nil
        }
    }

    /// `exp`, seconds since the epoch.
    public var expiresAt: Date? {
        if case .number(let seconds)? = payload["exp"] { return Date(timeIntervalSince1970: seconds) }
        return nil
    }

    public func scopes(separator: String) -> [String] {
        let node = payload["scope"] ?? payload["scp"]
        switch node {
        case .array(let items)?: return items.compactMap(\.stringValue)
        case .string(let text)?: return text.components(separatedBy: separator).filter { !$0.isEmpty }
        default: return []
        }
    }

    public func user(claim: String) -> String? {
        payload[claim]?.stringValue
    }
}

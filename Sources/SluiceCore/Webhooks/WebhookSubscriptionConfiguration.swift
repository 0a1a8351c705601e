public import Foundation

/// A webhook subscription's `configuration`, as Gravitee writes it when a consumer subscribes to a `webhook`
/// entrypoint: where to push (`entrypointConfiguration.callbackUrl`), with which headers and credentials.
///
/// ```yaml
/// configuration:
///   entrypointId: webhook
///   channel: orders                       # optional
///   entrypointConfiguration:
///     callbackUrl: https://hooks.example.com/orders
///     headers: [{ name: X-Team, value: checkout }]
///     auth: { type: basic, basic: { username: u, password: p } }
///     ssl: { trustAll: false, hostnameVerifier: true }
///     secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw   # Sluice: Standard Webhooks signing secret
/// ```
public struct WebhookSubscriptionConfiguration: Sendable, Hashable {
    /// How the gateway authenticates to the callback.
    public enum Authentication: Sendable, Hashable {
        case none
        case basic(username: String, password: String)
        /// `Authorization: Bearer <value>`.
        case token(String)
        /// A token from `endpoint` by the client-credentials grant, sent as a bearer token.
        case oauth2(endpoint: URL, clientID: String, clientSecret: String, scopes: [String])
    }

    public var callbackURL: URL
    /// The channel the subscription reads (Gravitee's `channel`); nil: the API's endpoint as configured.
    public var channel: String?
    public var headers: [HTTPHeaderField]
    public var authentication: Authentication
    /// The callback's TLS settings as written (`trustAll`, `hostnameVerifier`, `trustStore`, `keyStore`); read by
    /// the delivery when it connects. Empty: the system's trust store, with hostname verification.
    public var ssl: JSONObject
    /// The Standard Webhooks signing secret (`whsec_` and base64); nil: messages go without `webhook-signature`.
    public var secret: WebhookSigningSecret?

    public struct HTTPHeaderField: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(
        callbackURL: URL, channel: String? = nil, headers: [HTTPHeaderField] = [],
        authentication: Authentication = .none,
        ssl: JSONObject = JSONObject(), secret: WebhookSigningSecret? = nil
    ) {
        self.callbackURL = callbackURL
        self.channel = channel
        self.headers = headers
        self.authentication = authentication
        self.ssl = ssl
        self.secret = secret
    }

    /// The entrypoint ids a subscription's `entrypointId` may name (Gravitee's advanced plugin id included).
    public static let entrypointIDs: Set<String> = ["webhook", "webhook-advanced"]

    /// Reads a subscription's `configuration`; nil with diagnostics when it is not a usable webhook configuration.
    public static func parse(
        _ object: JSONObject, at path: JSONPath, policy: WebhookCallbackPolicy = .init(),
        diagnostics: inout DiagnosticCollector
    ) -> WebhookSubscriptionConfiguration? {
        let reader = ConfigurationReader(object, at: path)
        reader.warnUnknown(["entrypointId", "channel", "entrypointConfiguration"], &diagnostics)
        let errorsBefore = diagnostics.diagnostics.count { $0.severity == .error }
        if let id = reader.string("entrypointId", &diagnostics, required: true), !entrypointIDs.contains(id) {
            diagnostics.error(
                path.key("entrypointId"), "must be 'webhook': subscriptions to '\(id)' entrypoints are not supported",
                code: "UNSUPPORTED_TYPE")
        }
        var channel = reader.string("channel", &diagnostics)
        if channel?.isEmpty == true { channel = nil }
        let entrypoint = reader.object("entrypointConfiguration", &diagnostics)
        entrypoint.warnUnknown(["callbackUrl", "headers", "auth", "ssl", "secret"], &diagnostics)
        let urlText = entrypoint.string("callbackUrl", &diagnostics)
        if urlText == nil {
            diagnostics.error(entrypoint.path.key("callbackUrl"), "is required", code: "MISSING_FIELD")
        }
        let url = urlText.flatMap {
            policy.check($0, at: entrypoint.path.key("callbackUrl"), &diagnostics)
        }
        var headers: [HTTPHeaderField] = []
        for (name, value) in entrypoint.namedValues("headers", &diagnostics) {
            if !Self.isHeaderName(name) {
                diagnostics.error(entrypoint.path.key("headers"), "'\(name)' is not an HTTP header name")
            } else if value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                diagnostics.error(entrypoint.path.key("headers"), "the value of '\(name)' has a line break")
            } else {
                headers.append(.init(name: name, value: value))
            }
        }
        let authentication = parseAuthentication(entrypoint.object("auth", &diagnostics), &diagnostics)
        let ssl = entrypoint.object("ssl", &diagnostics)
        ssl.warnUnknown(["trustAll", "hostnameVerifier", "trustStore", "keyStore"], &diagnostics)
        var secret: WebhookSigningSecret?
        if let text = entrypoint.string("secret", &diagnostics) {
            secret = WebhookSigningSecret(text)
            if secret == nil {
                diagnostics.error(
                    entrypoint.path.key("secret"),
                    "must be 'whsec_' followed by the base64 of 24 to 64 random bytes (Standard Webhooks)")
            }
        }
        let errorsAfter = diagnostics.diagnostics.count { $0.severity == .error }
        guard errorsAfter == errorsBefore, let url, let authentication else { return nil }
        return WebhookSubscriptionConfiguration(
            callbackURL: url, channel: channel, headers: headers, authentication: authentication, ssl: ssl.object,
            secret: secret)
    }

    static func parseAuthentication(
        _ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> Authentication? {
        reader.warnUnknown(["type", "basic", "token", "oauth2"], &diagnostics)
        guard let type = reader.string("type", &diagnostics) else { return Authentication.none }
        switch type.lowercased() {
        case "none", "":
            return Authentication.none
        case "basic":
            let basic = reader.object("basic", &diagnostics)
            basic.warnUnknown(["username", "password"], &diagnostics)
            guard let username = basic.string("username", &diagnostics, required: true),
                let password = basic.string("password", &diagnostics, required: true)
            else { return nil }
            if username.contains(":") {
                diagnostics.error(basic.path.key("username"), "must not contain ':' (RFC 7617)")
                return nil
            }
            return .basic(username: username, password: password)
        case "token":
            let token = reader.object("token", &diagnostics)
            token.warnUnknown(["value"], &diagnostics)
            guard let value = token.string("value", &diagnostics, required: true), !value.isEmpty else { return nil }
            if value.contains(where: { $0.isWhitespace || !$0.isASCII }) {
                diagnostics.error(token.path.key("value"), "must be a token without spaces")
                return nil
            }
            return .token(value)
        case "oauth2":
            let oauth2 = reader.object("oauth2", &diagnostics)
            oauth2.warnUnknown(["endpoint", "clientId", "clientSecret", "scopes"], &diagnostics)
            let endpoint = oauth2.string("endpoint", &diagnostics, required: true)
            let clientID = oauth2.string("clientId", &diagnostics, required: true)
            let clientSecret = oauth2.string("clientSecret", &diagnostics, required: true)
            var scopes: [String] = []
            for (scope, scopePath) in oauth2.array("scopes", &diagnostics) {
                if let text = scope.stringValue, !text.isEmpty, !text.contains(" ") {
                    scopes.append(text)
                } else {
                    diagnostics.error(scopePath, "must be a scope name")
                }
            }
            guard let endpoint, let clientID, let clientSecret, !clientID.isEmpty else { return nil }
            // The token endpoint is the operator's too: the same URL rules, without the callback allow-list.
            guard let url = WebhookCallbackPolicy().check(endpoint, at: oauth2.path.key("endpoint"), &diagnostics)
            else {
                return nil
            }
            return .oauth2(endpoint: url, clientID: clientID, clientSecret: clientSecret, scopes: scopes)
        default:
            diagnostics.error(
                reader.path.key("type"), "must be one of none, basic, token, oauth2", code: "UNSUPPORTED_TYPE")
            return nil
        }
    }

    /// RFC 9110 token characters: what a header name may hold.
    public static func isHeaderName(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    return true
                default:
                    return "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }
}

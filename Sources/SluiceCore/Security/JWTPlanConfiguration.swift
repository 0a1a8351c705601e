/// A `jwt` plan's `security.configuration`, as Gravitee's JWT policy reads it (`signature`, `publicKeyResolver`,
/// `resolverParameter`, `extractClaims`, `propagateAuthHeader`, `userClaim`, `clientIdClaim`, the JWKS timeouts,
/// `checkRequiredScopes`/`requiredScopes`/`modeStrict`), plus two Sluice fields, `issuer` and `audience`.
public struct JWTPlanConfiguration: Sendable {
    /// The one algorithm the plan accepts: a token whose header names another (`none`, HS256 on an RS256 plan) is
    /// refused before any key is looked at.
    public enum Signature: String, Sendable, CaseIterable {
        case rs256 = "RS256"
        case rs384 = "RS384"
        case rs512 = "RS512"
        case hs256 = "HS256"
        case hs384 = "HS384"
        case hs512 = "HS512"
        case es256 = "ES256"
        case es384 = "ES384"
        case eddsa = "EdDSA"

        /// Reads Gravitee's names (`RSA_RS256`, `HMAC_HS256`) and the JOSE ones (`RS256`, `ES256`, `EdDSA`).
        public init?(name: String) {
            let upper = name.uppercased()
            let bare = upper.split(separator: "_").last.map(String.init) ?? upper
            guard let match = Self.allCases.first(where: { $0.rawValue.uppercased() == bare }) else { return nil }
            self = match
        }

        public var isHMAC: Bool { self == .hs256 || self == .hs384 || self == .hs512 }
    }

    public enum KeyResolver: String, Sendable {
        /// `resolverParameter` is the key itself: a PEM public key (or certificate), or the HMAC secret.
        case givenKey = "GIVEN_KEY"
        /// `resolverParameter` is the URL of a JSON Web Key Set.
        case jwksURL = "JWKS_URL"
    }

    public var signature: Signature
    public var keyResolver: KeyResolver
    public var resolverParameter: String
    /// Put the verified claims into the request's attributes as `jwt.claims`. Default: false.
    public var extractClaims: Bool
    /// Pass the `Authorization` header on to the endpoint. Default: true.
    public var propagateAuthHeader: Bool
    /// The claim naming the user. Default: `sub`.
    public var userClaim: String
    /// The claim carrying the client id; when absent: `azp`, else the first `aud`, else `client_id`.
    public var clientIdClaim: String?
    /// JWKS fetch: time to connect, and time for the whole answer. Default: 2000 ms each (Gravitee's).
    public var connectTimeoutMs: Int64
    public var requestTimeoutMs: Int64
    public var checkRequiredScopes: Bool
    public var requiredScopes: [String]
    /// All required scopes (true), or at least one (false). Default: true.
    public var modeStrict: Bool
    /// Sluice: accepted `iss` values; empty accepts any.
    public var issuers: [String]
    /// Sluice: accepted `aud` values (the token's `aud` must contain one); empty accepts any.
    public var audiences: [String]

    /// Reads and checks a plan's configuration; nil when it cannot be used (each problem is in `diagnostics`).
    public static func parse(
        _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
    ) -> JWTPlanConfiguration? {
        let reader = ConfigurationReader(object, at: path)
        let errorsBefore = diagnostics.diagnostics.count { $0.severity == .error }
        reader.warnUnknown(
            [
                "signature", "publicKeyResolver", "resolverParameter", "extractClaims", "propagateAuthHeader",
                "userClaim", "clientIdClaim", "useSystemProxy", "connectTimeout", "requestTimeout", "followRedirects",
                "checkRequiredScopes", "requiredScopes", "modeStrict", "confirmationMethodValidation",
                "tokenTypValidation", "revocationCheck", "protectedResourceMetadata", "issuer", "audience",
            ], &diagnostics)
        var signature = Signature.rs256
        if let name = reader.string("signature", &diagnostics) {
            if let parsed = Signature(name: name) {
                signature = parsed
            } else {
                diagnostics.error(
                    path.key("signature"),
                    "'\(name)' is not supported: use RSA_RS256, RSA_RS384, RSA_RS512, HMAC_HS256, HMAC_HS384, HMAC_HS512, ES256, ES384 or EdDSA",
                    code: "UNSUPPORTED_VALUE")
            }
        }
        var resolver = KeyResolver.givenKey
        if let name = reader.string("publicKeyResolver", &diagnostics) {
            if let parsed = KeyResolver(rawValue: name.uppercased()) {
                resolver = parsed
            } else {
                diagnostics.error(
                    path.key("publicKeyResolver"), "'\(name)' is not supported: use GIVEN_KEY or JWKS_URL",
                    code: "UNSUPPORTED_VALUE")
            }
        }
        let parameter = reader.string("resolverParameter", &diagnostics, required: true) ?? ""
        if parameter.contains("{#") {
            diagnostics.error(
                path.key("resolverParameter"), "expression language is not supported here: give the key or URL itself",
                code: "UNSUPPORTED_VALUE")
        }
        if resolver == .jwksURL, !parameter.isEmpty {
            let lowered = parameter.lowercased()
            if !(lowered.hasPrefix("http://") || lowered.hasPrefix("https://")) {
                diagnostics.error(path.key("resolverParameter"), "must be an http:// or https:// URL")
            }
        }
        if resolver == .givenKey, !parameter.isEmpty, !parameter.contains("{#") {
            do {
                try JWTKeySet.checkGiven(parameter, signature: signature)
            } catch {
                diagnostics.error(
                    path.key("resolverParameter"), "is not a usable \(signature.rawValue) key: \(error)")
            }
        }
        for (name, key) in [
            ("confirmationMethodValidation", "certificateBoundThumbprint"), ("tokenTypValidation", nil),
            ("revocationCheck", nil),
        ] {
            // A check the plan asks for and this gateway does not make must not be skipped silently.
            let section = reader.object(name, &diagnostics)
            let enabled =
                key.map { section.object($0, &diagnostics).bool("enabled", &diagnostics) }
                ?? section.bool("enabled", &diagnostics)
            if enabled == true {
                diagnostics.error(path.key(name), "is not supported by this gateway", code: "UNSUPPORTED_VALUE")
            }
        }
        var scopes: [String] = []
        for (item, itemPath) in reader.array("requiredScopes", &diagnostics) {
            if let scope = item.stringValue {
                scopes.append(scope)
            } else {
                diagnostics.error(itemPath, "must be a string")
            }
        }
        let configuration = JWTPlanConfiguration(
            signature: signature, keyResolver: resolver, resolverParameter: parameter,
            extractClaims: reader.bool("extractClaims", &diagnostics) ?? false,
            propagateAuthHeader: reader.bool("propagateAuthHeader", &diagnostics) ?? true,
            userClaim: reader.string("userClaim", &diagnostics).flatMap { $0.isEmpty ? nil : $0 } ?? "sub",
            clientIdClaim: reader.string("clientIdClaim", &diagnostics).flatMap { $0.isEmpty ? nil : $0 },
            connectTimeoutMs: reader.integer("connectTimeout", &diagnostics, minimum: 1) ?? 2000,
            requestTimeoutMs: reader.integer("requestTimeout", &diagnostics, minimum: 1) ?? 2000,
            checkRequiredScopes: reader.bool("checkRequiredScopes", &diagnostics) ?? false,
            requiredScopes: scopes, modeStrict: reader.bool("modeStrict", &diagnostics) ?? true,
            issuers: Self.strings(reader, "issuer", &diagnostics),
            audiences: Self.strings(reader, "audience", &diagnostics))
        let errorsAfter = diagnostics.diagnostics.count { $0.severity == .error }
        return errorsAfter == errorsBefore ? configuration : nil
    }

    /// A string or an array of strings.
    static func strings(
        _ reader: ConfigurationReader, _ key: String, _ diagnostics: inout DiagnosticCollector
    )
        -> [String]
    {
        switch reader.object[key] {
        case .string(let text)?: return text.isEmpty ? [] : [text]
        case .array?:
            return reader.array(key, &diagnostics).compactMap { item, itemPath in
                if let text = item.stringValue { return text }
                diagnostics.error(itemPath, "must be a string")
                return nil
            }
        case nil, .null?: return []
        case let other?:
            diagnostics.error(reader.path.key(key), "must be a string or an array of strings, found \(other.typeName)")
            return []
        }
    }
}

/// Gravitee's scope rule, shared by JWT and OAuth2 plans: strict mode needs every required scope, lenient mode one.
package func hasRequiredScopes(_ granted: [String], required: [String], strict: Bool) -> Bool {
    if required.isEmpty { return true }
    if granted.isEmpty { return false }
    let granted = Set(granted)
    return strict ? required.allSatisfy(granted.contains) : required.contains(where: granted.contains)
}

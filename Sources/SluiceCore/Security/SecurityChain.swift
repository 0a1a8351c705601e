public import Foundation

/// Decides which plan serves a request, trying plans in Gravitee's order: JWT and OAuth2 first, then API key,
/// then key-less. Only plans that serve traffic (published, deprecated) take part. The first plan whose credential
/// the request carries decides: a request with an API key is checked by the API-key plans and refused if the key
/// does not hold, even when the API also has a key-less plan.
///
/// An API without any plan is served as if it had one published key-less plan, as Gravitee's own
/// gateway fixtures expect. A request carrying a bearer token on an API with JWT or OAuth2 plans is decided by
/// those plans: ``decide(_:api:access:now:)`` hands the token back (``Decision/bearer(_:)``) for the gateway's
/// ``BearerPlans`` to verify, which may need I/O (a JWK set, an introspection).
public struct SecurityChain: Sendable {
    public struct ResolvedPlan: Sendable, Hashable {
        public var id: String
        public var securityType: String
        /// The subscription that let the request in (plans with a credential).
        public var subscription: String?
        public var application: String?
        /// What the plan tells the rest of the request, as Gravitee's context attributes: `jwt.claims` (JSON),
        /// `oauth.client_id`, `user`, `oauth.payload`.
        public var attributes: [String: String]
        /// Whether the `Authorization` header may reach the endpoint (`propagateAuthHeader`).
        public var propagatesAuthorization: Bool
        /// Whether the API key header may reach the endpoint (an API-key plan's `propagateApiKey`); else it is
        /// removed, whatever plan took the request.
        public var propagatesAPIKey: Bool

        public init(
            id: String, securityType: String, subscription: String? = nil, application: String? = nil,
            attributes: [String: String] = [:], propagatesAuthorization: Bool = true, propagatesAPIKey: Bool = false
        ) {
            self.propagatesAPIKey = propagatesAPIKey
            self.id = id
            self.securityType = securityType
            self.subscription = subscription
            self.application = application
            self.attributes = attributes
            self.propagatesAuthorization = propagatesAuthorization
        }
    }

    public enum Decision: Sendable {
        case resolved(Result<ResolvedPlan, GatewayError>)
        /// A JWT or OAuth2 plan decides: the token (possibly empty) is to be verified by them.
        case bearer(Substring)
    }

    /// What a request presents, as read by the gateway from its headers and query.
    public struct Credentials: Sendable {
        /// The API key (header, else query parameter); empty when present with no value.
        public var apiKey: Substring?
        /// The bearer token: the first `Authorization: Bearer …` header, else the `access_token` query parameter
        /// (Gravitee's order); empty when present with no value.
        public var bearerToken: Substring?

        /// The request as plans' selection rules see it (`#request`), made only when a rule is evaluated.
        public var selectionScope: (@Sendable () -> ExpressionScope)?

        public init(
            apiKey: Substring? = nil, bearerToken: Substring? = nil,
            selectionScope: (@Sendable () -> ExpressionScope)? = nil
        ) {
            self.apiKey = apiKey
            self.bearerToken = bearerToken
            self.selectionScope = selectionScope
        }

        public var hasBearerToken: Bool { bearerToken != nil }

        public static let none = Credentials()
    }

    /// Where requests carry an API key: a header, else a query parameter. Set gateway-wide, as Gravitee does
    /// (`policy.api-key.header`, `policy.api-key.param`).
    public struct APIKeyNames: Sendable, Hashable {
        public var header: String
        public var queryParameter: String

        public init(header: String, queryParameter: String) {
            self.header = header
            self.queryParameter = queryParameter
        }

        /// Gravitee's: `X-Gravitee-Api-Key` and `api-key`.
        public static let gravitee = APIKeyNames(header: apiKeyHeader, queryParameter: apiKeyQueryParameter)
    }

    /// Gravitee's default header for an API key.
    public static let apiKeyHeader = "X-Gravitee-Api-Key"
    /// Gravitee's default query parameter for an API key, read when the header is absent.
    public static let apiKeyQueryParameter = "api-key"

    static let order = ["jwt", "oauth2", "api-key", "key-less"]

    let plans: [APIDefinition.Plan]
    /// The plans' selection rules, parsed, by plan id.
    public let selectionRules: [String: ExpressionTemplate]
    let implicitKeyless: Bool
    let apiKeyPlans: Set<String>
    /// The API-key plans whose key may reach the endpoint (`propagateApiKey: true`).
    let propagatingAPIKeyPlans: Set<String>
    /// Whether a JWT or OAuth2 plan serves.
    public let hasBearerPlans: Bool
    /// Whether a JWT plan serves.
    public let hasJWTPlans: Bool
    /// Whether every API-key plan takes every request with a key (none has a selection rule): the plan a key
    /// resolves to then depends on the key alone, and ``apiKeyCache`` keeps it.
    let apiKeyPlansSelectAll: Bool
    /// Keys that let requests in, with their plan (see ``APIKeyCache``).
    let apiKeyCache = APIKeyCache()

    public init(plans: [APIDefinition.Plan]) {
        self.implicitKeyless = plans.isEmpty
        // A plan whose selection rule does not parse serves nothing: failing closed, never serving requests the
        // rule would have kept out (the definition reader reports it).
        var rules: [String: ExpressionTemplate] = [:]
        var usable: [APIDefinition.Plan] = []
        // PUSH plans serve webhook subscriptions, never an HTTP request.
        for plan in plans where plan.status.serves && !plan.isPush {
            guard plan.hasSelectionRule else {
                usable.append(plan)
                continue
            }
            guard let rule = try? Self.parseSelectionRule(plan.selectionRule ?? "") else { continue }
            rules[plan.id] = rule
            usable.append(plan)
        }
        self.selectionRules = rules
        // A stable sort: plans of one security type keep the order of the definition.
        self.plans = usable.enumerated().sorted { a, b in
            let rankA = Self.order.firstIndex(of: a.element.securityType) ?? Self.order.count
            let rankB = Self.order.firstIndex(of: b.element.securityType) ?? Self.order.count
            return rankA != rankB ? rankA < rankB : a.offset < b.offset
        }.map(\.element)
        self.apiKeyPlans = Set(self.plans.filter { $0.securityType == "api-key" }.map(\.id))
        self.propagatingAPIKeyPlans = Set(
            self.plans.filter {
                $0.securityType == "api-key" && $0.securityConfiguration["propagateApiKey"]?.boolValue == true
            }.map(\.id))
        self.hasBearerPlans = self.plans.contains { $0.securityType == "jwt" || $0.securityType == "oauth2" }
        self.hasJWTPlans = self.plans.contains { $0.securityType == "jwt" }
        self.apiKeyPlansSelectAll = apiKeyPlans.allSatisfy { rules[$0] == nil }
    }

    /// Parses a plan's selection rule: a template (`{#…}`), or, as Gravitee takes it, a bare expression that
    /// starts with `#`.
    public static func parseSelectionRule(_ rule: String) throws -> ExpressionTemplate {
        let trimmed = rule.trimmingCharacters(in: .whitespaces)
        return try ExpressionParser().parseTemplate(trimmed.hasPrefix("#") ? "{\(trimmed)}" : trimmed)
    }

    /// Whether any plan looks at credentials: when false, every request resolves the same way without reading them.
    public var readsCredentials: Bool {
        !selectionRules.isEmpty || plans.contains { $0.securityType != "key-less" }
    }

    /// The decision where no bearer token is involved; a request that JWT or OAuth2 plans would take is refused
    /// as unresolvable here (use ``decide(_:api:access:now:)`` to verify it).
    public func resolve(
        _ credentials: Credentials = .none, api: String, access: AccessSnapshot = .empty, now: Date = Date()
    ) -> Result<ResolvedPlan, GatewayError> {
        switch decide(credentials, api: api, access: access, now: now) {
        case .resolved(let result): result
        case .bearer: .failure(.planUnresolvable)
        }
    }

    public func decide(
        _ credentials: Credentials = .none, api: String, access: AccessSnapshot = .empty, now: Date = Date()
    ) -> Decision {
        if implicitKeyless { return .resolved(.success(ResolvedPlan(id: "key-less", securityType: "key-less"))) }
        if hasBearerPlans, let token = credentials.bearerToken { return .bearer(token) }
        return .resolved(resolveWithoutBearer(credentials, api: api, access: access, now: now))
    }

    /// The decision of the API-key and key-less plans, for a request with a bearer token that no JWT or OAuth2
    /// plan's selection rule selected (as in Gravitee, the next plans may then take it).
    public func resolveWithoutBearer(
        _ credentials: Credentials, api: String, access: AccessSnapshot, now: Date = Date()
    ) -> Result<ResolvedPlan, GatewayError> {
        // A plan whose selection rule is false does not take the request, as in Gravitee: the next plan may. A rule
        // that cannot be evaluated is false.
        var scope: ExpressionScope?
        func selects(_ plan: APIDefinition.Plan) -> Bool {
            guard let rule = selectionRules[plan.id] else { return true }
            if scope == nil { scope = credentials.selectionScope?() }
            guard let scope else { return false }
            return (try? ExpressionEvaluator().isTrue(rule, in: scope)) ?? false
        }
        var apiKeyPlansDecided = false
        for plan in plans {
            switch plan.securityType {
            case "api-key":
                guard !apiKeyPlansDecided, let key = credentials.apiKey else { continue }
                // The API-key plans decide together (a key names its subscription, and so its plan): those whose
                // rule selects the request.
                apiKeyPlansDecided = true
                if apiKeyPlansSelectAll, !key.isEmpty,
                    let plan = apiKeyCache.plan(for: key, generation: access.generation, now: now)
                {
                    return .success(plan)
                }
                let eligible =
                    apiKeyPlansSelectAll
                    ? apiKeyPlans : Set(plans.filter { $0.securityType == "api-key" && selects($0) }.map(\.id))
                guard !eligible.isEmpty else { continue }
                guard !key.isEmpty else { return .failure(.apiKeyMissing) }
                let decision = access.keyDecision(forKey: key, api: api, plans: eligible, at: now)
                guard let subscription = decision.subscription else { return .failure(.apiKeyInvalid) }
                let plan = ResolvedPlan(
                    id: subscription.plan, securityType: "api-key", subscription: subscription.id,
                    application: subscription.application,
                    propagatesAPIKey: propagatingAPIKeyPlans.contains(subscription.plan))
                if apiKeyPlansSelectAll {
                    apiKeyCache.store(plan, for: key, generation: access.generation, until: decision.stableUntil)
                }
                return .success(plan)
            case "key-less":
                guard selects(plan) else { continue }
                return .success(ResolvedPlan(id: plan.id, securityType: plan.securityType))
            default:
                continue
            }
        }
        return .failure(.planUnresolvable)
    }
}

extension GatewayError {
    public static let planUnresolvable = GatewayError(
        status: 401, key: "GATEWAY_PLAN_UNRESOLVABLE", message: "Unauthorized")
    public static let apiKeyMissing = GatewayError(status: 401, key: "API_KEY_MISSING", message: "Unauthorized")
    /// The same answer for a key that does not exist, is revoked or expired, or is not subscribed to this API and plan.
    public static let apiKeyInvalid = GatewayError(status: 401, key: "API_KEY_INVALID", message: "Unauthorized")
}

extension GatewayError {
    /// `Authorization: Bearer` or `access_token` with no token, before a JWT plan.
    public static let jwtMissingToken = GatewayError(status: 401, key: "JWT_MISSING_TOKEN", message: "Unauthorized")
    /// The same answer whatever was wrong with the token (signature, algorithm, key, time, issuer, audience, size).
    public static let jwtInvalidToken = GatewayError(status: 401, key: "JWT_INVALID_TOKEN", message: "Unauthorized")
    public static let jwtInsufficientScope = GatewayError(
        status: 401, key: "JWT_INSUFFICIENT_SCOPE", message: "Unauthorized")
    /// A JWT plan's JWK set could not be fetched or read (Gravitee answers 500 with this key).
    public static let jwksResolutionError = GatewayError(
        status: 500, key: "JWT_JWKS_RESOLUTION_ERROR", message: "Internal Server Error", isRetriable: true)
    /// The challenge of an OAuth2 plan's refusals, Gravitee's (RFC 6750 §3).
    public static let oauth2Challenge = #"Bearer realm="gravitee.io""#
    /// The challenge of a refusal on an API with a JWT plan when no plan took the request (Gravitee's JWT policy).
    public static let bearerChallenge = "Bearer"
    public static let oauth2MissingAccessToken = GatewayError(
        status: 401, key: "OAUTH2_MISSING_ACCESS_TOKEN", message: "Unauthorized", challenge: oauth2Challenge)
    public static let oauth2InvalidAccessToken = GatewayError(
        status: 401, key: "OAUTH2_INVALID_ACCESS_TOKEN", message: "Unauthorized", challenge: oauth2Challenge)
    /// Gravitee answers 401 here, not RFC 6750's 403.
    public static let oauth2InsufficientScope = GatewayError(
        status: 401, key: "OAUTH2_INSUFFICIENT_SCOPE", message: "Unauthorized", challenge: oauth2Challenge)
    /// The authorization server could not be reached, timed out, or answered other than 200 with a JSON object.
    public static let oauth2ServerUnavailable = GatewayError(
        status: 503, key: "OAUTH2_SERVER_UNAVAILABLE", message: "temporarily_unavailable", isRetriable: true,
        challenge: oauth2Challenge)
    /// A valid token whose client id has no accepted subscription to the plan.
    public static let oauth2AccessDenied = GatewayError(
        status: 401, key: "GATEWAY_OAUTH2_ACCESS_DENIED", message: "Unauthorized")
    /// A valid token that names no client id.
    public static let oauth2InvalidClient = GatewayError(
        status: 401, key: "GATEWAY_OAUTH2_INVALID_CLIENT", message: "Unauthorized")
}

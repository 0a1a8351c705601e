import Foundation
import Logging
import SluiceCore

/// The JWT and OAuth2 plans of one API: decides a request that carries a bearer token.
///
/// Which plan decides follows Gravitee: the plans are tried in order (JWT plans, then OAuth2 plans), and a plan
/// takes the token when the token's client id (a JWT's claims, read before the signature is checked; an OAuth2
/// server's answer) belongs to an application with an accepted, current subscription to it. That plan's checks
/// then decide, with no falling through. When no plan takes the token, the first bearer plan refuses it with the
/// most telling answer: an invalid token, else a missing client id, else no subscription.
///
/// The decision is made by ``step(_:_:)``, synchronously, from what is at hand: verified tokens in the caches,
/// loaded keys, and the answers fetched for this request. When it needs more (keys to load, a JWK set to
/// refresh, a token to introspect) it says so; ``resolveNow(_:api:access:now:)`` then gives up (the event loop
/// passes the request on) while ``resolve(_:api:access:now:)`` fetches it and steps again.
final class BearerPlans: Sendable {
    /// A class: read on every request, where copying a struct of references would retain each of them.
    final class JWTPlan: Sendable {
        let id: String
        let verifier: JWTVerifier
        let keys: JWTKeyProvider
        let cache: TokenCache<VerifiedJWT>

        init(id: String, verifier: JWTVerifier, keys: JWTKeyProvider, cache: TokenCache<VerifiedJWT>) {
            self.id = id
            self.verifier = verifier
            self.keys = keys
            self.cache = cache
        }
    }

    final class OAuth2Plan: Sendable {
        let id: String
        let configuration: OAuth2PlanConfiguration
        let introspector: TokenIntrospector
        /// Active answers by token, until their `exp`; shared by the plans that name the same resource.
        let cache: TokenCache<IntrospectionAnswer>

        init(
            id: String, configuration: OAuth2PlanConfiguration, introspector: TokenIntrospector,
            cache: TokenCache<IntrospectionAnswer>
        ) {
            self.id = id
            self.configuration = configuration
            self.introspector = introspector
            self.cache = cache
        }
    }

    enum Kind: Sendable {
        case jwt(Int)
        case oauth2(Int)
    }

    /// What a request has gathered so far.
    struct Attempt {
        var introspections: [String: TokenIntrospector.Outcome] = [:]
        var keysLoaded: Set<Int> = []
        var refreshed: Set<Int> = []
    }

    enum Need {
        case keys(Int)
        case refresh(Int)
        case introspection(Int)
    }

    enum Step {
        case decided(Result<SecurityChain.ResolvedPlan, GatewayError>)
        case needs(Need)
        /// No JWT or OAuth2 plan's selection rule selects the request: the API-key and key-less plans may.
        case notSelected
    }

    /// What the bearer plans make of a request.
    enum Outcome {
        case decided(Result<SecurityChain.ResolvedPlan, GatewayError>)
        case notSelected
    }

    let jwtPlans: [JWTPlan]
    let oauth2Plans: [OAuth2Plan]
    /// The order bearer plans are tried in.
    let order: [Kind]
    let maximumTokenBytes: Int
    /// The selection rules of the bearer plans that have one, by plan id.
    let selectionRules: [String: ExpressionTemplate]
    /// How long a verified JWT without `exp` is remembered.
    static let unexpiringCacheSeconds: TimeInterval = 300

    init(
        plans: [APIDefinition.Plan], resources: [APIDefinition.Resource], settings: SecuritySettings,
        selectionRules: [String: ExpressionTemplate] = [:], logger: Logger
    ) throws {
        var diagnostics = DiagnosticCollector()
        var jwtPlans: [JWTPlan] = []
        var oauth2Plans: [OAuth2Plan] = []
        var caches: [String: TokenCache<IntrospectionAnswer>] = [:]
        // A plan whose selection rule does not parse serves nothing (fail closed; see SecurityChain).
        let serving = plans.filter { $0.status.serves && (!$0.hasSelectionRule || selectionRules[$0.id] != nil) }
        for plan in serving where plan.securityType == "jwt" {
            let path = plan.path.key("security").key("configuration")
            guard
                let configuration = JWTPlanConfiguration.parse(
                    plan.securityConfiguration, at: path, diagnostics: &diagnostics)
            else { continue }
            let source: JWTKeyProvider.Source =
                switch configuration.keyResolver {
                case .givenKey: .given(configuration.resolverParameter)
                case .jwksURL:
                    .jwks(
                        url: configuration.resolverParameter,
                        timeout: .milliseconds(configuration.connectTimeoutMs + configuration.requestTimeoutMs))
                }
            var planLogger = logger
            planLogger[metadataKey: "plan"] = "\(plan.id)"
            jwtPlans.append(
                JWTPlan(
                    id: plan.id,
                    verifier: JWTVerifier(
                        configuration: configuration, clockSkew: Double(settings.jwtClockSkewSeconds)),
                    keys: JWTKeyProvider(
                        source: source, signature: configuration.signature,
                        refreshInterval: TimeInterval(settings.jwksRefreshSeconds),
                        minimumRefreshInterval: TimeInterval(settings.jwksMinimumRefreshSeconds), logger: planLogger),
                    cache: TokenCache(capacity: settings.tokenCacheEntries)))
        }
        for plan in serving where plan.securityType == "oauth2" {
            let path = plan.path.key("security").key("configuration")
            guard
                let configuration = OAuth2PlanConfiguration.parse(
                    plan.securityConfiguration, at: path, resources: resources, diagnostics: &diagnostics),
                let resource = resources.first(where: {
                    $0.name == configuration.resource && $0.type == OAuth2ResourceConfiguration.type
                }),
                let resourceConfiguration = OAuth2ResourceConfiguration.parse(resource, diagnostics: &diagnostics)
            else { continue }
            let cache = caches[resource.name] ?? TokenCache(capacity: settings.tokenCacheEntries)
            caches[resource.name] = cache
            oauth2Plans.append(
                OAuth2Plan(
                    id: plan.id, configuration: configuration,
                    introspector: TokenIntrospector(resource: resourceConfiguration, logger: logger), cache: cache))
        }
        if diagnostics.hasErrors {
            throw DeploymentError(
                apiID: "", diagnostics: diagnostics.diagnostics.filter { $0.severity == .error })
        }
        self.jwtPlans = jwtPlans
        self.oauth2Plans = oauth2Plans
        self.order = jwtPlans.indices.map(Kind.jwt) + oauth2Plans.indices.map(Kind.oauth2)
        self.maximumTokenBytes = settings.maxTokenBytes
        self.selectionRules = selectionRules
        // Unstructured: jwt-kit builds keys asynchronously; doing it now lets the first requests be served on
        // the event loop. Each task ends with its load.
        let now = Date()
        for plan in jwtPlans { Task { await plan.keys.load(now: now) } }
    }

    var isEmpty: Bool { order.isEmpty }

    /// The decision if it can be made now, without I/O; nil when it cannot.
    func resolveNow(
        _ token: Substring, api: String, access: AccessSnapshot, now: Date, selection: SelectionScope? = nil
    ) -> Outcome? {
        var attempt = Attempt()
        switch step(token, api: api, access: access, now: now, selection: selection, &attempt) {
        case .decided(let result): return .decided(result)
        case .notSelected: return .notSelected
        case .needs: return nil
        }
    }

    func resolve(
        _ token: Substring, api: String, access: AccessSnapshot, now: Date, selection: SelectionScope? = nil
    ) async -> Outcome {
        var attempt = Attempt()
        // Each round fetches one thing that was missing; a request needs a handful at most.
        for _ in 0..<(2 * order.count + 2) {
            switch step(token, api: api, access: access, now: now, selection: selection, &attempt) {
            case .decided(let result):
                return .decided(result)
            case .notSelected:
                return .notSelected
            case .needs(.keys(let index)):
                await jwtPlans[index].keys.load(now: now)
                attempt.keysLoaded.insert(index)
            case .needs(.refresh(let index)):
                await jwtPlans[index].keys.load(now: now)
                attempt.refreshed.insert(index)
            case .needs(.introspection(let index)):
                let plan = oauth2Plans[index]
                attempt.introspections[plan.introspector.resource.name] = await plan.introspector.introspect(token)
            }
        }
        return .decided(.failure(.planUnresolvable))
    }

    // MARK: The decision

    typealias SelectionScope = @Sendable () -> ExpressionScope

    /// The ids of the bearer plans whose selection rule selects the request, or nil when no plan has a rule.
    /// A rule sees `#request` and, as in Gravitee, `#context.attributes['jwt']` with the token (`token`) and its
    /// claims (`claims`, read before anything is checked; null when the token is not a JWT). A rule that cannot be
    /// evaluated is false.
    func selectedPlans(_ token: Substring, claims: JSONObject?, selection: SelectionScope?) -> Set<String>? {
        guard !selectionRules.isEmpty else { return nil }
        var selected: Set<String> = []
        var scope: ExpressionScope?
        for kind in order {
            let id =
                switch kind {
                case .jwt(let index): jwtPlans[index].id
                case .oauth2(let index): oauth2Plans[index].id
                }
            guard let rule = selectionRules[id] else {
                selected.insert(id)
                continue
            }
            if scope == nil, let base = selection?() {
                let jwt: ExpressionValue = .map([
                    "token": .string(String(token)),
                    "claims": claims.map { ExpressionValue(json: .object($0)) } ?? .null,
                ])
                scope = base.withContextAttribute("jwt", jwt)
            }
            if let scope, (try? ExpressionEvaluator().isTrue(rule, in: scope)) ?? false { selected.insert(id) }
        }
        return selected
    }

    func step(
        _ token: Substring, api: String, access: AccessSnapshot, now: Date, selection: SelectionScope? = nil,
        _ attempt: inout Attempt
    ) -> Step {
        // Spaces and tabs around the token go (ASCII only: Foundation's trimming, through UTF-16, cost more than
        // the rest of a cached token's check).
        let trimmed = Self.trimmingBlanks(token)
        let sized = !trimmed.isEmpty && trimmed.utf8.count <= maximumTokenBytes
        // The character check, made once and only when needed (a token found in the cache passed it when it was
        // verified).
        var checkedCharacters: Bool?
        func wellFormed() -> Bool {
            if let checkedCharacters { return checkedCharacters }
            let result = sized && Self.isTokenText(trimmed)
            checkedCharacters = result
            return result
        }
        var parts =
            !selectionRules.isEmpty && wellFormed() ? JWTParts(trimmed, maximumBytes: maximumTokenBytes) : nil
        let selected = selectedPlans(trimmed, claims: parts?.claims, selection: selection)
        func selects(_ id: String) -> Bool { selected?.contains(id) ?? true }
        guard
            let first = order.first(where: {
                switch $0 {
                case .jwt(let index): selects(jwtPlans[index].id)
                case .oauth2(let index): selects(oauth2Plans[index].id)
                }
            })
        else { return order.isEmpty ? .decided(.failure(.planUnresolvable)) : .notSelected }
        if trimmed.isEmpty {
            if case .jwt = first { return .decided(.failure(.jwtMissingToken)) }
            return .decided(.failure(.oauth2MissingAccessToken))
        }
        // A token verified before: its plan and claims are known without reading it again (the cache is keyed by
        // the token itself, so only the very same token hits, and it was well formed when it was verified).
        if sized {
            for (index, plan) in jwtPlans.enumerated() where selects(plan.id) {
                guard let cached = plan.cache.value(for: trimmed, now: now), let clientID = cached.clientID,
                    let subscription = access.subscription(forClientID: clientID, api: api, plan: plan.id, at: now)
                else { continue }
                return decideJWT(
                    index, trimmed, nil, cached: cached, subscription: subscription, api: api, access: access,
                    now: now, &attempt)
            }
        }
        if parts == nil, wellFormed() { parts = JWTParts(trimmed, maximumBytes: maximumTokenBytes) }
        // Which plan takes the token: the first whose client id has a subscription to it.
        for (index, plan) in jwtPlans.enumerated() where selects(plan.id) {
            guard let parts, let clientID = plan.verifier.clientID(parts.claims),
                access.subscription(forClientID: clientID, api: api, plan: plan.id, at: now) != nil
            else { continue }
            return decideJWT(index, trimmed, parts, api: api, access: access, now: now, &attempt)
        }
        if wellFormed() {
            for (index, plan) in oauth2Plans.enumerated() where selects(plan.id) {
                switch introspection(index, trimmed, now: now, attempt) {
                case nil: return .needs(.introspection(index))
                case .serverFailure?: return .decided(.failure(.oauth2ServerUnavailable))
                case .answer(let answer)?:
                    guard answer.active, let clientID = answer.clientID,
                        access.subscription(forClientID: clientID, api: api, plan: plan.id, at: now) != nil
                    else { continue }
                    return decideOAuth2(index, answer, api: api, access: access, now: now)
                }
            }
        }
        // No plan takes it: the first one says why.
        switch first {
        case .jwt(let index):
            guard let parts else { return .decided(.failure(.jwtInvalidToken)) }
            return decideJWT(index, trimmed, parts, api: api, access: access, now: now, &attempt)
        case .oauth2(let index):
            guard wellFormed(), case .answer(let answer)? = introspection(index, trimmed, now: now, attempt) else {
                return .decided(.failure(.oauth2InvalidAccessToken))
            }
            return decideOAuth2(index, answer, api: api, access: access, now: now)
        }
    }

    /// `text` without the spaces and tabs around it.
    static func trimmingBlanks(_ text: Substring) -> Substring {
        var start = text.startIndex
        var end = text.endIndex
        while start < end, text[start] == " " || text[start] == "\t" { start = text.index(after: start) }
        while end > start, text[text.index(before: end)] == " " || text[text.index(before: end)] == "\t" {
            end = text.index(before: end)
        }
        return text[start..<end]
    }

    private func decideJWT(
        _ index: Int, _ token: Substring, _ parts: JWTParts?, cached hit: VerifiedJWT? = nil,
        subscription known: AccessData.Subscription? = nil, api: String, access: AccessSnapshot, now: Date,
        _ attempt: inout Attempt
    ) -> Step {
        let plan = jwtPlans[index]
        var verified: VerifiedJWT
        if let cached = hit ?? plan.cache.value(for: token, now: now) {
            guard plan.verifier.stillValid(cached, now: now) else { return .decided(.failure(.jwtInvalidToken)) }
            verified = cached
        } else {
            guard let parts else { return .decided(.failure(.jwtInvalidToken)) }
            guard let keys = plan.keys.current(now: now) else {
                if attempt.keysLoaded.contains(index) || !plan.keys.mayRefresh(now: now) {
                    return .decided(.failure(.jwksResolutionError))
                }
                return .needs(.keys(index))
            }
            switch plan.verifier.verify(parts, keys: keys, now: now) {
            case .valid(let token):
                verified = token
            case .invalid:
                return .decided(.failure(.jwtInvalidToken))
            case .unknownKey:
                if !attempt.refreshed.contains(index), !attempt.keysLoaded.contains(index),
                    plan.keys.mayRefresh(now: now)
                {
                    return .needs(.refresh(index))
                }
                return .decided(.failure(.jwtInvalidToken))
            }
            let skew = plan.verifier.clockSkew
            let until =
                verified.expiresAt.map { $0.addingTimeInterval(skew) }
                ?? now.addingTimeInterval(Self.unexpiringCacheSeconds)
            verified.attributes = Self.attributes(
                of: verified, extractClaims: plan.verifier.configuration.extractClaims)
            plan.cache.store(verified, for: token, until: until, now: now)
        }
        let configuration = plan.verifier.configuration
        if configuration.checkRequiredScopes,
            !hasRequiredScopes(
                verified.scopes, required: configuration.requiredScopes, strict: configuration.modeStrict)
        {
            return .decided(.failure(.jwtInsufficientScope))
        }
        guard let clientID = verified.clientID, !clientID.isEmpty else {
            return .decided(.failure(.oauth2InvalidClient))
        }
        guard
            let subscription = known
                ?? access.subscription(forClientID: clientID, api: api, plan: plan.id, at: now)
        else {
            return .decided(.failure(.oauth2AccessDenied))
        }
        let attributes =
            verified.attributes ?? Self.attributes(of: verified, extractClaims: configuration.extractClaims)
        return .decided(
            .success(
                SecurityChain.ResolvedPlan(
                    id: plan.id, securityType: "jwt", subscription: subscription.id,
                    application: subscription.application, attributes: attributes,
                    propagatesAuthorization: configuration.propagateAuthHeader)))
    }

    /// The request attributes a verified JWT gives (Gravitee's names).
    static func attributes(of verified: VerifiedJWT, extractClaims: Bool) -> [String: String] {
        var attributes: [String: String] = [:]
        if let clientID = verified.clientID { attributes["oauth.client_id"] = clientID }
        if let user = verified.user { attributes["user"] = user }
        if extractClaims { attributes["jwt.claims"] = JSONValue.object(verified.claims).jsonText() }
        return attributes
    }

    private func introspection(
        _ index: Int, _ token: Substring, now: Date, _ attempt: Attempt
    ) -> TokenIntrospector.Outcome? {
        let plan = oauth2Plans[index]
        if let outcome = attempt.introspections[plan.introspector.resource.name] {
            if case .answer(let answer) = outcome, answer.active, let expiresAt = answer.expiresAt {
                plan.cache.store(answer, for: token, until: expiresAt, now: now)
            }
            return outcome
        }
        return plan.cache.value(for: token, now: now).map { .answer($0) }
    }

    private func decideOAuth2(
        _ index: Int, _ answer: IntrospectionAnswer, api: String, access: AccessSnapshot, now: Date
    ) -> Step {
        let plan = oauth2Plans[index]
        guard answer.active else { return .decided(.failure(.oauth2InvalidAccessToken)) }
        let configuration = plan.configuration
        if configuration.checkRequiredScopes {
            let scopes = answer.scopes(separator: plan.introspector.resource.scopeSeparator)
            if !hasRequiredScopes(scopes, required: configuration.requiredScopes, strict: configuration.modeStrict) {
                return .decided(.failure(.oauth2InsufficientScope))
            }
        }
        guard let clientID = answer.clientID else { return .decided(.failure(.oauth2InvalidClient)) }
        guard let subscription = access.subscription(forClientID: clientID, api: api, plan: plan.id, at: now) else {
            return .decided(.failure(.oauth2AccessDenied))
        }
        var attributes = ["oauth.client_id": clientID]
        if let user = answer.user(claim: plan.introspector.resource.userClaim) { attributes["user"] = user }
        if configuration.extractPayload { attributes["oauth.payload"] = answer.text }
        return .decided(
            .success(
                SecurityChain.ResolvedPlan(
                    id: plan.id, securityType: "oauth2", subscription: subscription.id,
                    application: subscription.application, attributes: attributes,
                    propagatesAuthorization: configuration.propagateAuthHeader)))
    }

    /// RFC 6750's token characters (`b64token`): anything else (spaces, control characters, quotes) is refused
    /// before it goes near a header, a URL or a log.
    static func isTokenText(_ token: Substring) -> Bool {
        if let checked = token.utf8.withContiguousStorageIfAvailable({ isTokenText(bytes: $0) }) { return checked }
        return isTokenText(bytes: Array(token.utf8))
    }

    private static func isTokenText(bytes: some Sequence<UInt8>) -> Bool {
        var padding = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "="):
                padding = true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding { return false }
            default:
                return false
            }
        }
        return true
    }
}

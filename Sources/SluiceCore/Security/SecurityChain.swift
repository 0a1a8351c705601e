/// Decides which plan serves a request, trying plans in Gravitee's order: JWT and OAuth2 first, then API key,
/// then key-less. Only plans that serve traffic (published, deprecated) take part.
///
/// An API without any plan is served as if it had one published key-less plan, as Gravitee's own
/// gateway fixtures expect.
public struct SecurityChain: Sendable {
    public struct ResolvedPlan: Sendable, Hashable {
        public var id: String
        public var securityType: String
    }

    static let order = ["jwt", "oauth2", "api-key", "key-less"]

    let plans: [APIDefinition.Plan]
    let implicitKeyless: Bool

    public init(plans: [APIDefinition.Plan]) {
        self.implicitKeyless = plans.isEmpty
        self.plans = plans.filter { $0.status.serves }.sorted { a, b in
            (Self.order.firstIndex(of: a.securityType) ?? Self.order.count)
                < (Self.order.firstIndex(of: b.securityType) ?? Self.order.count)
        }
    }

    public func resolve() -> Result<ResolvedPlan, GatewayError> {
        if implicitKeyless { return .success(ResolvedPlan(id: "key-less", securityType: "key-less")) }
        for plan in plans where plan.securityType == "key-less" {
            return .success(ResolvedPlan(id: plan.id, securityType: plan.securityType))
        }
        return .failure(
            GatewayError(status: 401, key: "GATEWAY_PLAN_UNRESOLVABLE", message: "Unauthorized")
        )
    }
}

import Foundation
import NIOHTTP1
import SluiceCore
import SluiceEntrypoints

extension Deployment {
    typealias Resolution = Result<SecurityChain.ResolvedPlan, GatewayError>

    /// What a request on the event-loop path presents to this API's plans.
    func credentials(of head: HTTPRequestHead) -> SecurityChain.Credentials {
        .init(head: head, names: apiKeyFields, selectable: !security.selectionRules.isEmpty)
    }

    /// The plan that serves a request, if it can be decided without waiting: always for key-less and API-key
    /// plans; for a bearer token when its verification is at hand (a cached token, loaded keys). Nil means the
    /// decision needs I/O (a JWK set, an introspection): the event loop then passes the request on to the async
    /// path. The credentials are only read when a plan looks at them.
    func resolvePlanNow(
        _ credentials: @autoclosure () -> SecurityChain.Credentials, access: AccessStore
    )
        -> Resolution?
    {
        if let credentialFreeResolution { return credentialFreeResolution }
        return decidePlanNow(credentials(), access: access).map(challenging)
    }

    /// A refusal because no plan took the request carries the `Bearer` challenge on an API with a JWT plan, as
    /// Gravitee's JWT policy answers.
    private func challenging(_ resolution: Resolution) -> Resolution {
        guard case .failure(let error) = resolution, error == .planUnresolvable, security.hasJWTPlans else {
            return resolution
        }
        var challenged = error
        challenged.challenge = GatewayError.bearerChallenge
        return .failure(challenged)
    }

    private func decidePlanNow(_ credentials: SecurityChain.Credentials, access: AccessStore) -> Resolution? {
        let snapshot = access.current
        let now = Date()
        switch security.decide(credentials, api: id, access: snapshot, now: now) {
        case .resolved(let result): return result
        case .bearer(let token):
            guard let bearer else { return .failure(.planUnresolvable) }
            switch bearer.resolveNow(
                token, api: id, access: snapshot, now: now, selection: credentials.selectionScope)
            {
            case .decided(let result)?: return result
            case .notSelected?: return security.resolveWithoutBearer(credentials, api: id, access: snapshot, now: now)
            case nil: return nil
            }
        }
    }

    /// The plan that serves a request, waiting for what a bearer token's verification needs.
    func resolvePlan(_ credentials: SecurityChain.Credentials, access: AccessStore) async -> Resolution {
        if let credentialFreeResolution { return credentialFreeResolution }
        return challenging(await decidePlan(credentials, access: access))
    }

    private func decidePlan(_ credentials: SecurityChain.Credentials, access: AccessStore) async -> Resolution {
        let snapshot = access.current
        let now = Date()
        switch security.decide(credentials, api: id, access: snapshot, now: now) {
        case .resolved(let result): return result
        case .bearer(let token):
            guard let bearer else { return .failure(.planUnresolvable) }
            switch await bearer.resolve(
                token, api: id, access: snapshot, now: now, selection: credentials.selectionScope)
            {
            case .decided(let result): return result
            case .notSelected: return security.resolveWithoutBearer(credentials, api: id, access: snapshot, now: now)
            }
        }
    }

    /// What a stream that `plan` let in is checked against while it runs: the same credentials must still resolve,
    /// against the access data in force and the time now (to any subscription: a key of two subscriptions keeps
    /// its stream when one of them ends). A bearer token is checked again as far as that can be done without
    /// waiting (its signature and times; a cached introspection answer); one whose check needs I/O is taken as
    /// still holding until it can be checked. Nil for a plan that took no credential (key-less), which nothing can
    /// revoke.
    func streamGrant(
        _ credentials: SecurityChain.Credentials, plan: SecurityChain.ResolvedPlan, access: AccessStore
    ) -> StreamGrant? {
        guard plan.subscription != nil else { return nil }
        // The credentials are copied out of the request, which the stream does not keep.
        let kept = SecurityChain.Credentials(
            apiKey: credentials.apiKey.map { String($0)[...] },
            bearerToken: credentials.bearerToken.map { String($0)[...] }, selectionScope: credentials.selectionScope)
        return StreamGrant { [self] _ in
            switch resolvePlanNow(kept, access: access) {
            case .failure(let error)?: error
            case .success?, nil: nil
            }
        }
    }
}

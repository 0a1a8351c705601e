import Foundation
import SluiceCore

extension Deployment {
    typealias Resolution = Result<SecurityChain.ResolvedPlan, GatewayError>

    /// The plan that serves a request, if it can be decided without waiting: always for key-less and API-key
    /// plans; for a bearer token when its verification is at hand (a cached token, loaded keys). Nil means the
    /// decision needs I/O (a JWK set, an introspection): the event loop then passes the request on to the async
    /// path. The credentials are only read when a plan looks at them.
    func resolvePlanNow(
        _ credentials: @autoclosure () -> SecurityChain.Credentials, access: AccessStore
    )
        -> Resolution?
    {
        guard security.readsCredentials else { return security.resolve(api: id) }
        let snapshot = access.current
        let now = Date()
        switch security.decide(credentials(), api: id, access: snapshot, now: now) {
        case .resolved(let result): return result
        case .bearer(let token):
            guard let bearer else { return .failure(.planUnresolvable) }
            return bearer.resolveNow(token, api: id, access: snapshot, now: now)
        }
    }

    /// The plan that serves a request, waiting for what a bearer token's verification needs.
    func resolvePlan(_ credentials: SecurityChain.Credentials, access: AccessStore) async -> Resolution {
        guard security.readsCredentials else { return security.resolve(api: id) }
        let snapshot = access.current
        let now = Date()
        switch security.decide(credentials, api: id, access: snapshot, now: now) {
        case .resolved(let result): return result
        case .bearer(let token):
            guard let bearer else { return .failure(.planUnresolvable) }
            return await bearer.resolve(token, api: id, access: snapshot, now: now)
        }
    }
}

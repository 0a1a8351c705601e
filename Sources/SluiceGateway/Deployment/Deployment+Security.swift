import Foundation
import SluiceCore
import SluiceEntrypoints

extension Deployment {
    typealias Resolution = Result<SecurityChain.ResolvedPlan, GatewayError>

    /// The plan that serves a request, as the event-loop and async paths both decide it. The credentials are only
    /// read when a plan looks at them.
    func resolvePlan(_ credentials: @autoclosure () -> SecurityChain.Credentials, access: AccessStore) -> Resolution {
        guard security.readsCredentials else { return security.resolve(api: id) }
        return security.resolve(credentials(), api: id, access: access.current)
    }

    /// What a stream that `plan` let in is checked against while it runs: the same credentials must still resolve,
    /// against the access data in force and the time now (to any subscription: a key of two subscriptions keeps
    /// its stream when one of them ends). Nil for a plan that took no credential (key-less), which nothing can
    /// revoke.
    func streamGrant(
        _ credentials: SecurityChain.Credentials, plan: SecurityChain.ResolvedPlan, access: AccessStore
    ) -> StreamGrant? {
        guard plan.subscription != nil else { return nil }
        // The credential is copied out of the request, which the stream does not keep.
        let kept = SecurityChain.Credentials(
            apiKey: credentials.apiKey.map { String($0)[...] }, hasBearerToken: credentials.hasBearerToken)
        let security = security
        let api = id
        return StreamGrant { now in
            switch security.resolve(kept, api: api, access: access.current, now: now) {
            case .failure(let error): error
            case .success: nil
            }
        }
    }
}

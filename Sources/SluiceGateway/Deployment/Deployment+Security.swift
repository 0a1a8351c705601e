import SluiceCore

extension Deployment {
    typealias Resolution = Result<SecurityChain.ResolvedPlan, GatewayError>

    /// The plan that serves a request, as the event-loop and async paths both decide it. The credentials are only
    /// read when a plan looks at them.
    func resolvePlan(_ credentials: @autoclosure () -> SecurityChain.Credentials, access: AccessStore) -> Resolution {
        guard security.readsCredentials else { return security.resolve(api: id) }
        return security.resolve(credentials(), api: id, access: access.current)
    }
}

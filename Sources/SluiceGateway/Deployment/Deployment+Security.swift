import SluiceCore

extension Deployment {
    /// The plan that serves a request, as the event-loop and async paths both decide it.
    func resolvePlan(
        _ credentials: @autoclosure () -> SecurityChain.Credentials, access: AccessStore
    ) -> Result<
        SecurityChain.ResolvedPlan, GatewayError
    > {
        guard security.readsCredentials else { return security.resolve(api: id) }
        return security.resolve(credentials(), api: id, access: access.current)
    }
}

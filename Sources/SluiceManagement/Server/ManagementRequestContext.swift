public import Hummingbird
public import SluiceStore

/// A management request's context: who made it, once ``AccessMiddleware`` has read its bearer token.
public struct ManagementRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user; nil before authentication and on the open routes.
    public var user: ManagementUser?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.user = nil
    }

    /// Who the audit log names for a change made by this request.
    func change(_ action: String? = nil, detail: String? = nil) -> ChangeContext {
        ChangeContext(actor: user?.name ?? "anonymous", action: action, detail: detail)
    }
}

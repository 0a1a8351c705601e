/// When a step runs: once per request (`request`, `response`), or once per message (`publish`: messages from the
/// client to the endpoint; `subscribe`: messages from the endpoint to the client).
public enum FlowPhase: String, Sendable, CaseIterable {
    case request
    case response
    case publish
    case subscribe

    /// Whether steps of this phase run once per message.
    public var isMessagePhase: Bool { self == .publish || self == .subscribe }
}

public import SluiceCore

/// Told of each message an entrypoint takes from a client or gives to one: the gateway counts them and logs the
/// ones its API's analytics settings sample. Calls are cheap and never wait.
public protocol MessageObserver: Sendable {
    /// A client's message the endpoint took.
    func published(_ message: Message)
    /// A client's message the endpoint refused or could not take.
    func publishFailed(_ message: Message)
    /// A message sent to a consumer.
    func delivered(_ message: Message)
    /// A message a flow left out (on either side).
    func filtered()
    /// Messages sent to a consumer in a batch encoded once for several streams (counted, not looked at).
    func deliveredShared(count: Int)
    /// Whether each message sent to a consumer must go through ``delivered(_:)`` (it may be logged): such a stream
    /// is not served from batches shared with other streams.
    var logsEachDelivery: Bool { get }
}

extension MessageObserver {
    public var logsEachDelivery: Bool { false }
}

import SluiceCore

/// A message source whose messages are those of a ring (a topic of the embedded log, a ``SharedTail``'s ring), for
/// a reader that is not a task: an event-loop stream asks where the source stands, reads the ring from there
/// itself (`read`, `watch` for the next append), and reports what it handed out. Many such readers of one ring
/// read the same ranges, which lets them share what they encode.
///
/// The source keeps what its `next(maxCount:until:)` keeps (its place, its cursor), so a reader can leave the
/// ring for the task path at any time and continue exactly where it stands.
package protocol RingBackedSource: MessageSource {
    /// The ring the messages come from.
    var ring: InMemoryTopic { get }

    /// Where to read next, or why not from the ring. A reader that finds nothing at its place watches the ring
    /// and asks again once it has registered the watch: a source that ends (its tail stopped) says so here, and
    /// wakes the ring's watchers when it does.
    func ringPosition() -> RingPosition

    /// The reader handed out the ring's messages before `next`; `lastID` is the id of the last of them.
    func handedOut(upTo next: Int64, lastID: String?)

    /// Whether the source wants ``written(through:)`` (it commits what the client has).
    var reportsWrites: Bool { get }

    /// What was handed out through the message with id `lastID` has been written to the client.
    func written(through lastID: String?)
}

extension RingBackedSource {
    package var reportsWrites: Bool { false }

    package func written(through lastID: String?) {}
}

/// Where a ``RingBackedSource`` stands.
package enum RingPosition: Sendable {
    /// At this offset of the ring.
    case at(Int64)
    /// The ring no longer serves this reader (it fell behind what the ring keeps and continues on a broker
    /// reader of its own): continue with `next(maxCount:until:)`.
    case leaveRing
    /// The source has ended: closed (nil), or its ring's writer failed or stopped (the error to show the client).
    case ended(GatewayError?)
}

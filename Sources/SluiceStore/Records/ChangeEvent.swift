public import Foundation

/// One row of the events table: a resource changed. Written in the same transaction as the change, so a reader that
/// sees the change sees its event, and the other way round; gateways follow them by sequence.
public struct ChangeEvent: Sendable, Hashable {
    /// Strictly increasing in commit order: a reader that has seen `sequence` never later finds a smaller one.
    public var sequence: Int64
    public var at: Date
    public var resourceType: ResourceType
    public var resourceID: String
    public var kind: ChangeKind

    public init(sequence: Int64, at: Date, resourceType: ResourceType, resourceID: String, kind: ChangeKind) {
        self.sequence = sequence
        self.at = at
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.kind = kind
    }
}

/// Which events the store still holds: pruning removes the oldest, so a reader whose cursor fell behind
/// ``oldest`` has missed changes and must read the resources themselves again.
public struct EventRange: Sendable, Hashable {
    /// The sequence of the oldest event kept; 0 when the store holds none.
    public var oldest: Int64
    /// The sequence of the newest event; 0 when the store holds none.
    public var latest: Int64

    public init(oldest: Int64, latest: Int64) {
        self.oldest = oldest
        self.latest = latest
    }

    /// Whether a reader that has applied every event up to `cursor` can carry on from the events alone: nothing
    /// after its cursor was pruned, and the store has not gone back before it (a database restored from a copy).
    public func canContinue(from cursor: Int64) -> Bool {
        if cursor > latest { return false }
        return oldest == 0 || cursor >= oldest - 1
    }
}

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

/// Packet Identifiers for PUBLISH (QoS 1 and 2), SUBSCRIBE and UNSUBSCRIBE: one space of 1 to 65,535 shared by all
/// three (2.2.1). An identifier is in use from the packet's first send until its exchange completes, and is never
/// handed out again while in use. Identifiers are handed out in rising order, wrapping after 65,535, so one freed a
/// moment ago is the last to be reused: a late or duplicate acknowledgement cannot be mistaken for a new packet's.
struct MQTTPacketIdentifierAllocator: Hashable, Sendable {
    private(set) var inUse: Set<UInt16> = []
    private var next: UInt16 = 1

    /// The next free identifier, now in use; nil when all 65,535 are.
    mutating func allocate() -> UInt16? {
        guard inUse.count < Int(UInt16.max) else { return nil }
        while true {
            let candidate = next
            next = next == UInt16.max ? 1 : next + 1
            if inUse.insert(candidate).inserted { return candidate }
        }
    }

    /// Marks `identifier` as in use (an exchange resumed with a session); false if it already was.
    @discardableResult
    mutating func claim(_ identifier: UInt16) -> Bool {
        inUse.insert(identifier).inserted
    }

    /// Frees `identifier` for reuse.
    mutating func release(_ identifier: UInt16) {
        inUse.remove(identifier)
    }

    func isInUse(_ identifier: UInt16) -> Bool {
        inUse.contains(identifier)
    }
}

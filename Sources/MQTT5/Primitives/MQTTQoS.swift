/// A Quality of Service level: how hard sender and receiver work to deliver an Application Message (4.3).
public enum MQTTQoS: UInt8, Hashable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// QoS 0: delivered at most once, with no acknowledgement.
    case atMostOnce = 0
    /// QoS 1: delivered at least once, acknowledged by PUBACK.
    case atLeastOnce = 1
    /// QoS 2: delivered exactly once, through PUBREC, PUBREL and PUBCOMP.
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "QoS \(rawValue)" }
}

/// A validated Topic Filter, split into levels once so that matching many Topic Names against it is cheap.
///
/// `$share/{ShareName}/{filter}` is a shared subscription: `shareName` holds the ShareName and only `{filter}` is
/// matched against Topic Names (4.8.2).
public struct MQTTTopicFilter: Hashable, Sendable, CustomStringConvertible {
    /// The filter as written in a SUBSCRIBE, `$share/` prefix included.
    public let rawValue: String
    /// The ShareName of a shared subscription, nil otherwise.
    public let shareName: String?
    /// The part matched against Topic Names: `rawValue` without any `$share/{ShareName}/` prefix.
    public let filter: String
    private let levels: [[UInt8]]
    /// Without wildcards: matching is comparing bytes.
    private let isLiteral: Bool

    private static let sharePrefix = Array("$share/".utf8)

    /// Validates `rawValue` as `MQTTTopic.validateFilter` describes; throws `.invalidTopicFilter` otherwise.
    public init(_ rawValue: String) throws(MQTTProtocolError) {
        try MQTTTopic.validateCommon(rawValue, kind: "Topic Filter", code: .invalidTopicFilter)
        let bytes = Array(rawValue.utf8)
        var filterBytes = bytes[...]
        if bytes.starts(with: Self.sharePrefix) {
            let rest = bytes[Self.sharePrefix.count...]
            guard let slash = rest.firstIndex(of: MQTTTopic.separator) else {
                throw MQTTProtocolError(
                    .invalidTopicFilter, "shared subscription '\(rawValue)' has no '/' after its ShareName")
            }
            let share = rest[..<slash]
            guard !share.isEmpty else {
                throw MQTTProtocolError(.invalidTopicFilter, "shared subscription '\(rawValue)' has an empty ShareName")
            }
            guard !share.contains(MQTTTopic.singleLevelWildcard), !share.contains(MQTTTopic.multiLevelWildcard) else {
                throw MQTTProtocolError(
                    .invalidTopicFilter, "shared subscription '\(rawValue)' has a wildcard in its ShareName")
            }
            filterBytes = rest[(slash + 1)...]
            guard !filterBytes.isEmpty else {
                throw MQTTProtocolError(.invalidTopicFilter, "shared subscription '\(rawValue)' has no filter")
            }
            shareName = String(decoding: share, as: UTF8.self)
        } else {
            shareName = nil
        }
        let levels = filterBytes.split(separator: MQTTTopic.separator, omittingEmptySubsequences: false).map(Array.init)
        for (index, level) in levels.enumerated() {
            if level.contains(MQTTTopic.multiLevelWildcard)
                && (level.count != 1 || index != levels.count - 1)
            {
                throw MQTTProtocolError(
                    .invalidTopicFilter, "'#' in '\(rawValue)' is not a whole last level")
            }
            if level.contains(MQTTTopic.singleLevelWildcard) && level.count != 1 {
                throw MQTTProtocolError(.invalidTopicFilter, "'+' in '\(rawValue)' is not a whole level")
            }
        }
        self.rawValue = rawValue
        self.filter = String(decoding: filterBytes, as: UTF8.self)
        self.levels = levels
        self.isLiteral =
            !filterBytes.contains(MQTTTopic.singleLevelWildcard)
            && !filterBytes.contains(MQTTTopic.multiLevelWildcard)
    }

    /// Whether this is a shared subscription (`$share/{ShareName}/{filter}`).
    public var isShared: Bool { shareName != nil }

    /// Whether the filter uses `+` or `#`.
    public var hasWildcards: Bool {
        levels.contains { $0 == [MQTTTopic.singleLevelWildcard] || $0 == [MQTTTopic.multiLevelWildcard] }
    }

    /// Whether a message published to `topicName` matches (4.7): `+` matches exactly one level, `#` any number of
    /// levels including the parent, other levels byte for byte; a filter starting with a wildcard does not match
    /// a Topic Name starting with `$` (4.7.2).
    public func matches(topicName: String) -> Bool {
        let name = topicName.utf8
        if isLiteral { return name.count == filter.utf8.count && name.elementsEqual(filter.utf8) }
        guard let firstByte = name.first else { return false }
        if firstByte == UInt8(ascii: "$"), let first = levels.first,
            first == [MQTTTopic.singleLevelWildcard] || first == [MQTTTopic.multiLevelWildcard]
        {
            return false
        }
        let nameLevels = name.split(separator: MQTTTopic.separator, omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level == [MQTTTopic.multiLevelWildcard] { return true }
            guard index < nameLevels.count else { return false }
            if level == [MQTTTopic.singleLevelWildcard] { continue }
            guard nameLevels[index].elementsEqual(level) else { return false }
        }
        return levels.count == nameLevels.count
    }

    public var description: String { rawValue }
}

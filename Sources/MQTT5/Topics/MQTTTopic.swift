/// The rules for Topic Names and Topic Filters (section 4.7) and the shared-subscription form (4.8.2).
///
/// Names and filters are compared byte for byte as UTF-8, never normalised: "é" written precomposed and written
/// as "e" plus a combining accent are different topics, as [MQTT-4.7.3-4] requires.
public enum MQTTTopic {
    static let separator = UInt8(ascii: "/")
    static let singleLevelWildcard = UInt8(ascii: "+")
    static let multiLevelWildcard = UInt8(ascii: "#")

    /// Throws `.invalidTopicName` unless `name` can be a PUBLISH Topic Name: at least one character, no `+` or
    /// `#`, no U+0000, at most 65,535 bytes.
    public static func validateName(_ name: String) throws(MQTTProtocolError) {
        // One pass for the valid name of every publish; the errors are told apart only when there is one.
        if isValidName(name) { return }
        try validateCommon(name, kind: "Topic Name", code: .invalidTopicName)
        throw MQTTProtocolError(.invalidTopicName, "Topic Name '\(name)' contains a wildcard character")
    }

    /// Whether `name` can be a PUBLISH Topic Name.
    public static func isValidName(_ name: String) -> Bool {
        var length = 0
        for byte in name.utf8 {
            if byte == 0 || byte == singleLevelWildcard || byte == multiLevelWildcard { return false }
            length += 1
        }
        return length > 0 && length <= Int(UInt16.max)
    }

    /// Throws `.invalidTopicFilter` unless `filter` is a valid Topic Filter: at least one character; `#` only as
    /// a whole last level; `+` only as a whole level; and, for `$share/{ShareName}/{filter}`, a ShareName of at
    /// least one character without `/`, `+` or `#`, followed by `/` and a valid filter.
    public static func validateFilter(_ filter: String) throws(MQTTProtocolError) {
        _ = try MQTTTopicFilter(filter)
    }

    /// Whether `filter` is a valid Topic Filter.
    public static func isValidFilter(_ filter: String) -> Bool {
        (try? MQTTTopicFilter(filter)) != nil
    }

    /// Whether a message published to `topicName` matches `filter`. A shared filter matches as its `{filter}`
    /// part; an invalid filter matches nothing.
    public static func matches(topicName: String, filter: String) -> Bool {
        guard let filter = try? MQTTTopicFilter(filter) else { return false }
        return filter.matches(topicName: topicName)
    }

    static func validateCommon(
        _ string: String,
        kind: String,
        code: MQTTProtocolError.Code
    ) throws(MQTTProtocolError) {
        let length = string.utf8.count
        guard length > 0 else { throw MQTTProtocolError(code, "a \(kind) is at least one character long") }
        guard length <= Int(UInt16.max) else {
            throw MQTTProtocolError(code, "a \(kind) of \(length) bytes; the maximum is 65535")
        }
        guard !string.utf8.contains(0) else { throw MQTTProtocolError(code, "a \(kind) contains U+0000") }
    }
}

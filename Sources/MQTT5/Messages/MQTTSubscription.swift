/// One Topic Filter of a SUBSCRIBE with its options.
public struct MQTTSubscription: Hashable, Sendable {
    /// A valid Topic Filter, possibly a shared one (`$share/{ShareName}/{filter}`).
    public var topicFilter: String
    public var options: MQTTSubscriptionOptions

    public init(topicFilter: String, options: MQTTSubscriptionOptions = MQTTSubscriptionOptions()) {
        self.topicFilter = topicFilter
        self.options = options
    }

    /// Checks the filter and that No Local is not set on a shared subscription [MQTT-3.8.3-4].
    func validate() throws(MQTTProtocolError) {
        let filter = try MQTTTopicFilter(topicFilter)
        if filter.isShared && options.noLocal {
            throw MQTTProtocolError(
                .invalidSubscriptionOptions, "No Local on the shared subscription '\(topicFilter)'")
        }
    }
}

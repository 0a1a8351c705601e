import NIOCore

/// The waits between reconnection attempts: `initialDelay` times `multiplier` to the power of the failures so far,
/// capped at `maximumDelay`, of which a random `jitter` share is taken off. A connection that reaches CONNACK
/// resets it.
struct MQTTReconnectBackoff: Hashable, Sendable {
    let configuration: MQTT5ClientConfiguration.ReconnectBackoff
    /// Failed attempts since the last successful connection.
    private(set) var failures = 0

    init(_ configuration: MQTT5ClientConfiguration.ReconnectBackoff) {
        self.configuration = configuration
    }

    /// The wait before the next attempt, after one more failure.
    mutating func nextDelay(using random: inout some RandomNumberGenerator) -> TimeAmount {
        let initial = Double(max(configuration.initialDelay.nanoseconds, 0))
        let maximum = Double(max(configuration.maximumDelay.nanoseconds, 0))
        var delay = initial
        for _ in 0..<failures where delay < maximum {
            delay *= max(configuration.multiplier, 1)
        }
        delay = min(delay, maximum)
        failures += 1
        let jitter = min(max(configuration.jitter, 0), 1)
        let factor = 1 - jitter * Double.random(in: 0...1, using: &random)
        return .nanoseconds(Int64(delay * factor))
    }

    mutating func nextDelay() -> TimeAmount {
        var random = SystemRandomNumberGenerator()
        return nextDelay(using: &random)
    }

    /// A connection succeeded.
    mutating func reset() {
        failures = 0
    }
}

import NIOCore
import Testing

@testable import MQTT5

@Suite struct MQTTReconnectBackoffTests {
    @Test func delaysGrowExponentiallyUpToTheMaximumAndResetAfterASuccess() {
        var configuration = MQTT5ClientConfiguration.ReconnectBackoff()
        configuration.initialDelay = .milliseconds(100)
        configuration.maximumDelay = .seconds(1)
        configuration.multiplier = 2
        configuration.jitter = 0
        var backoff = MQTTReconnectBackoff(configuration)
        var random = SeededGenerator(seed: 1)
        let delays = (0..<6).map { _ in backoff.nextDelay(using: &random).nanoseconds / 1_000_000 }
        #expect(delays == [100, 200, 400, 800, 1000, 1000])
        backoff.reset()
        #expect(backoff.nextDelay(using: &random) == .milliseconds(100))
    }

    @Test func jitterTakesARandomShareOffEachDelay() {
        var configuration = MQTT5ClientConfiguration.ReconnectBackoff()
        configuration.initialDelay = .seconds(1)
        configuration.maximumDelay = .seconds(1)
        configuration.jitter = 0.5
        var random = SeededGenerator(seed: 42)
        var seen: Set<Int64> = []
        for _ in 0..<200 {
            var backoff = MQTTReconnectBackoff(configuration)
            let delay = backoff.nextDelay(using: &random).nanoseconds
            #expect(delay >= 500_000_000 && delay <= 1_000_000_000)
            seen.insert(delay / 10_000_000)
        }
        // Spread over the range, not one value.
        #expect(seen.count > 20)
    }

    @Test func manyFailuresDoNotOverflow() {
        var configuration = MQTT5ClientConfiguration.ReconnectBackoff()
        configuration.jitter = 0
        var backoff = MQTTReconnectBackoff(configuration)
        var random = SeededGenerator(seed: 1)
        for _ in 0..<200 { _ = backoff.nextDelay(using: &random) }
        #expect(backoff.nextDelay(using: &random) == configuration.maximumDelay)
    }
}

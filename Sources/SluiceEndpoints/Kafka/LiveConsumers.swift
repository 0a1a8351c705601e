import KafkaClient
import Synchronization

/// The Kafka consumers of an endpoint that are alive, held weakly: a consumer that its source let go of drops out.
final class LiveConsumers: Sendable {
    private final class Weak: Sendable {
        weak let consumer: KafkaConsumer?
        init(_ consumer: KafkaConsumer) { self.consumer = consumer }
    }

    private let entries = Mutex<[ObjectIdentifier: Weak]>([:])

    func track(_ consumer: KafkaConsumer) {
        entries.withLock { entries in
            entries = entries.filter { $0.value.consumer != nil }
            entries[ObjectIdentifier(consumer)] = Weak(consumer)
        }
    }

    /// The largest lag per partition among the live consumers.
    var lag: [KafkaTopicPartition: Int64] {
        let consumers = entries.withLock { entries in
            entries = entries.filter { $0.value.consumer != nil }
            return entries.values.compactMap(\.consumer)
        }
        var lag: [KafkaTopicPartition: Int64] = [:]
        for consumer in consumers {
            for (partition, value) in consumer.lag { lag[partition] = max(lag[partition] ?? 0, value) }
        }
        return lag
    }
}

import Foundation
import KafkaClient
import KafkaWire
public import Logging
import NIOCore
public import SluiceCore
import Synchronization

/// The `kafka` endpoint: publishes messages to Kafka topics and consumes them, with Gravitee's configuration,
/// message ids and attributes, over the project's own Kafka client.
///
/// A deployment's connection to the cluster, its producer and each subscription's consumer are made when first
/// needed and released by ``stop()``. Publishing answers once the broker has acknowledged (`acks` all, or 1).
/// A subscription is a consumer in the group named by the client identifier (a stream), or a consumer of its
/// own that starts at the client's cursor or the group's committed offsets (a poll); see `docs/kafka-endpoint.md`.
public struct KafkaEndpoint: EndpointConnector {
    /// The attributes Gravitee users set to steer the endpoint per message or request.
    public enum Attribute {
        public static let recordKey = "gravitee.attribute.kafka.recordKey"
        public static let producerTopics = "gravitee.attribute.kafka.producer.topics"
        public static let consumerTopics = "gravitee.attribute.kafka.consumer.topics"
        /// Deprecated by Gravitee for the two above; still read, after them.
        public static let topics = "gravitee.attribute.kafka.topics"
        public static let groupID = "gravitee.attribute.kafka.groupId"
    }

    public let type = "kafka"
    public let configuration: KafkaEndpointConfiguration
    let runtime: KafkaEndpointRuntime

    public var canPublish: Bool { configuration.producer.enabled }
    public var canSubscribe: Bool { configuration.consumer.enabled }

    public init(configuration: KafkaEndpointConfiguration, logger: Logger) {
        self.configuration = configuration
        self.runtime = KafkaEndpointRuntime(configuration: configuration, logger: logger)
    }

    // MARK: Publishing

    public func publish(_ message: Message) async throws -> Message {
        guard configuration.producer.enabled else { throw GatewayError.kafkaModeDisabled(.publish) }
        let (cluster, producer) = try runtime.producer()
        do throws(KafkaError) {
            // A cluster known to be away fails the publish now rather than after the delivery timeout.
            try await cluster.checkReachable()
        } catch {
            throw GatewayError.kafkaUnavailable(error)
        }
        let topics = producerTopics(for: message)
        var stored: [KafkaRecordMetadata] = []
        for topic in topics {
            do throws(KafkaError) {
                stored.append(try await producer.send(Self.record(message, topic: topic)))
            } catch {
                throw Self.publishError(error, topic: topic)
            }
        }
        var published = message
        var positions: [KafkaTopicPartition: Int64] = [:]
        for metadata in stored where metadata.offset >= 0 {
            positions[KafkaTopicPartition(topic: metadata.topic, partition: metadata.partition)] = metadata.offset
        }
        if !positions.isEmpty {
            published.id = KafkaCursor(lastOffsets: positions).text(encoded: configuration.consumer.encodeMessageId)
        }
        if let first = stored.first {
            published.metadata["topic"] = first.topic
            published.metadata["partition"] = String(first.partition)
            published.metadata["offset"] = String(first.offset)
        }
        return published
    }

    /// The topics `message` goes to: the attributes' when set, else the configuration's.
    private func producerTopics(for message: Message) -> [String] {
        // Most messages carry no attributes: their topics are the configured ones.
        guard !message.attributes.isEmpty else { return configuration.producer.topics }
        return Self.topics(from: message.attributes, keys: Self.producerTopicKeys) ?? configuration.producer.topics
    }

    private static let producerTopicKeys = [Attribute.producerTopics, Attribute.topics]

    /// The record `message` makes for `topic`: its content, its headers as record headers, the key attribute.
    private static func record(_ message: Message, topic: String) -> KafkaProducerRecord {
        KafkaProducerRecord(
            topic: topic, key: message.attributes[Attribute.recordKey].map { ByteBuffer(string: $0) },
            value: message.content,
            headers: message.headers.map { KafkaRecordHeader(key: $0.name, value: ByteBuffer(string: $0.value)) },
            timestamp: message.timestamp > 0 ? message.timestamp : nil)
    }

    /// What a client is told when a record was not stored.
    private static func publishError(_ error: KafkaError, topic: String) -> GatewayError {
        if error.code == .broker(.unknownTopicOrPartition) { return GatewayError.kafkaTopicNotFound(topic) }
        return GatewayError.kafka(error)
    }

    // MARK: Subscribing

    public func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource {
        let consumer = configuration.consumer
        guard consumer.enabled else { throw GatewayError.kafkaModeDisabled(.subscribe) }
        let selection: KafkaTopicSelection
        if let topics = Self.topics(from: request.attributes, keys: [Attribute.consumerTopics, Attribute.topics]) {
            selection = .topics(topics)
        } else if let pattern = consumer.topicPattern {
            selection = .pattern(pattern)
        } else {
            selection = .topics(consumer.topics)
        }
        var cursor: KafkaCursor?
        if let text = request.resumeAfter {
            guard let parsed = try? KafkaCursor(parsing: text),
                parsed.lastOffsets.keys.allSatisfy({ selection.includes($0.topic) })
            else { throw GatewayError.invalidCursor(text) }
            cursor = parsed
        }
        let cluster = try runtime.cluster()
        do throws(KafkaError) {
            try await cluster.checkReachable()
        } catch {
            throw GatewayError.kafkaUnavailable(error)
        }
        if consumer.checkTopicExistence { try await Self.checkTopicsExist(selection, in: cluster) }
        let groupID =
            request.attributes[Attribute.groupID].flatMap { $0.isEmpty ? nil : $0 }
            ?? request.clientIdentifier ?? UUID().uuidString
        let options = KafkaMessageSource.Options(
            qos: request.qos, groupID: groupID, encodeIDs: consumer.encodeMessageId, logger: runtime.logger)
        switch request.mode {
        case .poll:
            let source = try await KafkaMessageSource.poll(
                selection: selection, cursor: cursor, autoOffsetReset: consumer.autoOffsetReset, cluster: cluster,
                options: options)
            runtime.consumers.track(source.consumer)
            return source
        case .stream:
            // A stream at the newest records with an identifier no one else has is served from the endpoint's
            // shared tail (KafkaTail): what its own group would read, without a consumer of its own.
            if request.clientIdentifierIsGenerated, request.attributes[Attribute.groupID] == nil, cursor == nil,
                consumer.autoOffsetReset == .latest, request.qos == .none || request.qos == .auto,
                case .topics(let topics) = selection
            {
                for _ in 0..<2 {
                    let tail = try await runtime.tail(
                        topics: topics, cluster: cluster, encodeIDs: consumer.encodeMessageId)
                    runtime.consumers.track(tail.consumer)
                    let source = KafkaTailSource(tail: tail, options: options) { cursor in
                        try await KafkaMessageSource.poll(
                            selection: selection, cursor: cursor, autoOffsetReset: consumer.autoOffsetReset,
                            cluster: cluster, options: options)
                    }
                    if let source { return source }
                    // It stopped between its start and this attach (it forgets itself): the next one is new.
                }
            }
            let source = try KafkaMessageSource.stream(
                selection: selection, cursor: cursor, autoOffsetReset: consumer.autoOffsetReset, cluster: cluster,
                options: options)
            runtime.consumers.track(source.consumer)
            return source
        }
    }

    /// Per topic partition, the largest lag among the endpoint's live consumers (shared tails, streams, polls):
    /// records between what a consumer has read and the partition's high watermark, as its latest fetch told.
    public var consumerLag: [(topic: String, partition: Int32, lag: Int64)] {
        runtime.consumers.lag.map { (topic: $0.key.topic, partition: $0.key.partition, lag: $0.value) }.sorted {
            ($0.topic, $0.partition) < ($1.topic, $1.partition)
        }
    }

    public func stop() async {
        await runtime.stop()
    }

    /// A comma-separated topic list from the first of `keys` set in `attributes`.
    static func topics(from attributes: [String: String], keys: [String]) -> [String]? {
        for key in keys {
            guard let value = attributes[key] else { continue }
            let topics = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            if !topics.isEmpty { return topics }
        }
        return nil
    }

    /// `checkTopicExistence`: every listed topic must exist; a pattern must match at least one.
    static func checkTopicsExist(_ selection: KafkaTopicSelection, in cluster: KafkaCluster) async throws {
        switch selection {
        case .topics(let topics):
            for topic in topics {
                do throws(KafkaError) {
                    _ = try await cluster.metadata(for: topic)
                } catch {
                    if error.code == .broker(.unknownTopicOrPartition) { throw GatewayError.kafkaTopicNotFound(topic) }
                    throw GatewayError.kafka(error)
                }
            }
        case .pattern(let pattern):
            if try await selection.topicNames(in: cluster).isEmpty {
                throw GatewayError.kafkaTopicNotFound(pattern)
            }
        }
    }
}

extension KafkaEndpoint: CallbackPublishing {
    /// Publishes as `publish(_:)` does, but without a task when it can: while a broker connection is open and the
    /// message goes to one topic whose partitions are known, the record goes straight into the producer's buffer
    /// and the broker's acknowledgement completes the publish. Anything else (the first record of a topic, a
    /// full buffer, a cluster that may be away, several topics) takes the waiting path in a task.
    public func publish(_ message: Message, completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        guard configuration.producer.enabled else {
            return completion(.failure(GatewayError.kafkaModeDisabled(.publish)))
        }
        let topics = producerTopics(for: message)
        if topics.count == 1, let (cluster, producer) = runtime.startedProducer ?? (try? runtime.producer()),
            cluster.hasOpenConnectionNow
        {
            let topic = topics[0]
            do throws(KafkaError) {
                let taken = try producer.produceNow(Self.record(message, topic: topic)) { delivered in
                    completion(delivered.map { _ in () }.mapError { Self.publishError($0, topic: topic) })
                }
                if taken { return }
            } catch {
                return completion(.failure(Self.publishError(error, topic: topic)))
            }
        }
        // Unstructured: the caller is an event loop, which cannot wait; the task ends with the publish.
        Task {
            do {
                _ = try await publish(message)
                completion(.success(()))
            } catch {
                completion(.failure(error))
            }
        }
    }
}

/// The topics a subscription reads: a list, or every topic whose whole name matches a pattern.
enum KafkaTopicSelection: Sendable {
    case topics([String])
    case pattern(String)

    func includes(_ topic: String) -> Bool {
        switch self {
        case .topics(let topics): topics.contains(topic)
        case .pattern(let pattern): (try? Regex(pattern)).map { topic.wholeMatch(of: $0) != nil } ?? false
        }
    }

    /// The topics that exist now.
    func topicNames(in cluster: KafkaCluster) async throws(GatewayError) -> [String] {
        switch self {
        case .topics(let topics):
            return topics
        case .pattern:
            do throws(KafkaError) {
                return try await cluster.allTopicNames().filter(includes)
            } catch {
                throw GatewayError.kafka(error)
            }
        }
    }
}

/// What one deployed `kafka` endpoint holds: its cluster connection and producer, made on first use.
final class KafkaEndpointRuntime: Sendable {
    private struct State {
        var cluster: KafkaCluster?
        var producer: KafkaProducer?
        var producerRun: Task<Void, Never>?
        var stopped = false
    }

    let configuration: KafkaEndpointConfiguration
    let logger: Logger
    private let state = Mutex(State())
    /// The shared tails of the streams that read the newest records with identifiers of their own.
    private let tails = TailRegistry<[String], KafkaTail>()
    /// The consumers alive now, for their lag.
    let consumers = LiveConsumers()

    /// How long a publish may wait for the broker's acknowledgement, retries included.
    static let deliveryTimeout = TimeAmount.seconds(10)

    init(configuration: KafkaEndpointConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The deployment's view of the cluster, made on first use.
    /// The cluster, when something has needed it already.
    var existingCluster: KafkaCluster? { state.withLock { $0.cluster } }

    func cluster() throws(GatewayError) -> KafkaCluster {
        let result = state.withLock { state -> Result<KafkaCluster, GatewayError> in
            if state.stopped {
                return .failure(.kafkaUnavailable(KafkaError(.shutDown, "the API is being undeployed")))
            }
            if let cluster = state.cluster { return .success(cluster) }
            var client = configuration.clientConfiguration
            client.timeouts.connect = .seconds(5)
            client.timeouts.request = .seconds(10)
            do throws(KafkaError) {
                let cluster = try KafkaCluster(configuration: client, logger: logger)
                state.cluster = cluster
                return .success(cluster)
            } catch {
                return .failure(.kafka(error))
            }
        }
        return try result.get()
    }

    /// The cluster and producer once both are made: one lock, for the publishing fast path.
    var startedProducer: (KafkaCluster, KafkaProducer)? {
        state.withLock { state in
            guard !state.stopped, let cluster = state.cluster, let producer = state.producer else { return nil }
            return (cluster, producer)
        }
    }

    /// The deployment's producer, made and started on first use.
    func producer() throws(GatewayError) -> (KafkaCluster, KafkaProducer) {
        let cluster = try cluster()
        let result = state.withLock { state -> Result<KafkaProducer, GatewayError> in
            if let producer = state.producer { return .success(producer) }
            var configuration = KafkaProducerConfiguration()
            configuration.acks = self.configuration.producer.acks
            configuration.compression = self.configuration.producer.compression
            // HTTP clients wait for each acknowledgement: no linger and one produce request in flight per
            // partition, so a record goes at once when the partition is idle and otherwise joins the batch that
            // leaves when the request in flight is answered (see docs/kafka-endpoint.md, "Publishing").
            configuration.linger = .zero
            configuration.maximumInFlightBatchesPerPartition = 1
            configuration.deliveryTimeout = Self.deliveryTimeout
            configuration.requestTimeout = .seconds(5)
            do throws(KafkaError) {
                let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
                state.producer = producer
                let logger = logger
                // Unstructured: a deployment is made at run time, outside any task group; the producer's sender
                // runs until stop() closes it, which awaits this task.
                state.producerRun = Task {
                    do {
                        try await producer.run()
                    } catch {
                        logger.warning("Kafka producer stopped", metadata: ["error": "\(error)"])
                    }
                }
                return .success(producer)
            } catch {
                return .failure(.kafka(error))
            }
        }
        return (cluster, try result.get())
    }

    /// The shared tail of `topics`, started by the first stream that needs it.
    func tail(topics: [String], cluster: KafkaCluster, encodeIDs: Bool) async throws -> KafkaTail {
        let logger = logger
        let tail = try await tails.tail(topics) { onStop in
            try await KafkaTail.start(
                topics: topics, cluster: cluster, encodeIDs: encodeIDs, logger: logger, onStop: onStop)
        }
        guard let tail else {
            throw GatewayError.kafkaUnavailable(KafkaError(.shutDown, "the API is being undeployed"))
        }
        return tail
    }

    /// Closes the producer (delivering what it holds), the shared tails and the cluster's connections; later use
    /// fails.
    func stop() async {
        let (cluster, producer, run) = state.withLock { state in
            state.stopped = true
            return (state.cluster, state.producer, state.producerRun)
        }
        for tail in await tails.close() {
            tail.shared.stop(.kafkaUnavailable(KafkaError(.shutDown, "the API is being undeployed")))
        }
        producer?.close()
        await run?.value
        await cluster?.shutdown()
    }
}

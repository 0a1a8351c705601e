import KafkaWire
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A time when no broker of the cluster could be reached.
public struct KafkaClusterOutage: Sendable {
    /// When the first connection attempt of the outage failed.
    public var since: NIODeadline
    /// The latest connection failure.
    public var error: KafkaError
}

/// The client's view of a Kafka cluster: brokers, topic metadata, group coordinators, and one connection per
/// broker shared by everything that uses the cluster (producers, consumers, admin calls).
///
/// Metadata is cached and refreshed when it grows old, when a request reports that it is stale
/// (`NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`, ...), or when a connection is lost. Connections are opened
/// on first use and reopened after a loss with exponential backoff.
public actor KafkaCluster {
    public nonisolated let configuration: KafkaClientConfiguration
    public nonisolated let eventLoopGroup: any EventLoopGroup
    nonisolated let logger: Logger
    private let sslContext: NIOSSLContext?

    private var brokers: [Int32: KafkaClientConfiguration.BrokerAddress] = [:]
    private var topics: [String: KafkaTopicMetadata] = [:]
    private var topicErrors: [String: KafkaErrorCode] = [:]
    private var metadataFetchedAt: NIODeadline?
    private var metadataRefresh: Task<Void, any Error>?
    private var connections: [ConnectionKey: ConnectionSlot] = [:]
    private var coordinators: [String: Int32] = [:]
    private var coordinatorAddresses: [Int32: KafkaClientConfiguration.BrokerAddress] = [:]
    private var isShutDown = false
    private var outage: KafkaClusterOutage?
    /// Connections open now, kept outside the actor for ``hasOpenConnectionNow``.
    private nonisolated let openConnections = Atomic<Int>(0)

    /// A broker address and a lane. Requests on one connection are answered in order, so a request that the broker
    /// may hold (a long-polling Fetch) gets a lane of its own, where it cannot delay produce, metadata and group
    /// requests on the shared lane.
    private struct ConnectionKey: Hashable {
        var address: KafkaClientConfiguration.BrokerAddress
        var lane: String
    }

    private enum ConnectionSlot {
        case connecting(Task<KafkaConnection, any Error>)
        case connected(KafkaConnection)
        case failed(attempts: Int, retryAt: NIODeadline, error: KafkaError)
    }

    public init(
        configuration: KafkaClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "sluice.kafka")
    ) throws(KafkaError) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        if let tls = configuration.tls {
            do {
                sslContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw KafkaError(.invalidConfiguration, "TLS: \(error)")
            }
        } else {
            sslContext = nil
        }
    }

    /// Closes every connection; later calls fail with `shutDown`.
    public func shutdown() {
        isShutDown = true
        for slot in connections.values {
            switch slot {
            case .connected(let connection): connection.close()
            case .connecting(let task): task.cancel()
            case .failed: break
            }
        }
        connections.removeAll()
    }

    // MARK: Connections

    /// The connection to a broker by node id, opened if needed.
    ///
    /// - Parameter lane: a name for a separate connection to the same broker (a consumer's fetches); the shared
    ///   connection when empty.
    public func connection(toNode node: Int32, lane: String = "") async throws(KafkaError) -> KafkaConnection {
        if let address = brokers[node] ?? coordinatorAddresses[node] {
            return try await connection(to: address, lane: lane)
        }
        try await refreshMetadata(topics: Array(topics.keys))
        guard let address = brokers[node] else {
            throw KafkaError(.connectionFailed, "broker \(node) is not in the cluster metadata")
        }
        return try await connection(to: address, lane: lane)
    }

    /// Closes the connections of a lane (a consumer that stops).
    public func closeLane(_ lane: String) {
        for (key, slot) in connections where key.lane == lane && !lane.isEmpty {
            if case .connected(let connection) = slot { connection.close() }
            connections[key] = nil
        }
    }

    /// A connection to any reachable broker: a known one first, then the bootstrap servers.
    public func anyConnection() async throws(KafkaError) -> KafkaConnection {
        for (key, slot) in connections where key.lane.isEmpty {
            if case .connected(let connection) = slot, connection.isActive { return connection }
        }
        var lastError = KafkaError(.connectionFailed, "no bootstrap servers")
        let candidates = Array(Set(brokers.values)) + configuration.bootstrapServers
        for address in candidates {
            do {
                return try await connection(to: address)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The connection to a broker by address, opened if needed; waits out the reconnect backoff after failures.
    public func connection(
        to address: KafkaClientConfiguration.BrokerAddress,
        lane: String = ""
    ) async throws(KafkaError) -> KafkaConnection {
        guard !isShutDown else { throw KafkaError(.shutDown, "the Kafka client is shut down") }
        let key = ConnectionKey(address: address, lane: lane)
        var attempts = 0
        switch connections[key] {
        case .connected(let connection) where connection.isActive:
            return connection
        case .connecting(let task):
            return try await Self.value(of: task)
        case .failed(let failedAttempts, let retryAt, _):
            attempts = failedAttempts
            let wait = retryAt - .now()
            if wait > .zero {
                do {
                    try await Task.sleep(nanoseconds: UInt64(wait.nanoseconds))
                } catch {
                    throw KafkaError(.shutDown, "cancelled while waiting to reconnect to \(address)")
                }
                // Another caller may have connected meanwhile.
                if case .connected(let connection) = connections[key], connection.isActive { return connection }
                if case .connecting(let task) = connections[key] { return try await Self.value(of: task) }
            }
        case .connected, .none:
            break
        }
        let configuration = configuration
        let sslContext = sslContext
        let eventLoop = eventLoopGroup.next()
        let logger = logger
        // One task per broker, shared by every caller that needs the connection while it opens.
        let task = Task {
            try await KafkaConnection.connect(
                to: address,
                configuration: configuration,
                sslContext: sslContext,
                eventLoop: eventLoop,
                logger: logger
            )
        }
        connections[key] = .connecting(task)
        do throws(KafkaError) {
            let connection = try await Self.value(of: task)
            if isShutDown {
                connection.close()
                throw KafkaError(.shutDown, "the Kafka client is shut down")
            }
            connections[key] = .connected(connection)
            outage = nil
            openConnections.add(1, ordering: .relaxed)
            connection.channel.closeFuture.whenComplete { [weak self] _ in
                guard let self else { return }
                self.openConnections.subtract(1, ordering: .relaxed)
                // The close is seen on an event loop; the cluster's state lives in the actor.
                Task { await self.connectionClosed(connection, key: key) }
            }
            return connection
        } catch {
            let delay = backoff(attempts: attempts)
            connections[key] = .failed(attempts: attempts + 1, retryAt: .now() + delay, error: error)
            if !hasOpenConnection {
                outage = KafkaClusterOutage(since: outage?.since ?? .now(), error: error)
            }
            logger.debug(
                "connection failed",
                metadata: [
                    "kafka.broker": "\(address)", "error": "\(error)", "retry.ms": "\(delay.nanoseconds / 1_000_000)",
                ]
            )
            throw error
        }
    }

    /// Whether any connection to any broker is open now.
    private var hasOpenConnection: Bool {
        connections.values.contains {
            if case .connected(let connection) = $0 { return connection.isActive }
            return false
        }
    }

    /// Whether a connection to some broker is open, read without waiting for the cluster: for callers on an event
    /// loop that take a fast path while the cluster is up and fall back to ``checkReachable()`` otherwise.
    public nonisolated var hasOpenConnectionNow: Bool {
        openConnections.load(ordering: .relaxed) > 0
    }

    /// The cluster is out of reach: the latest attempt to connect failed while no connection to any broker was open.
    /// nil once a connection opens again.
    public var currentOutage: KafkaClusterOutage? {
        hasOpenConnection ? nil : outage
    }

    /// Returns at once while a connection to some broker is open; otherwise connects now to a broker (without
    /// waiting out reconnect backoffs: brokers still backing off are skipped), and throws when none answers. For
    /// callers that would rather fail fast than queue work for a cluster that is away.
    public func checkReachable() async throws(KafkaError) {
        guard !hasOpenConnection else { return }
        var lastError: KafkaError?
        var seen: Set<KafkaClientConfiguration.BrokerAddress> = []
        for address in Array(brokers.values) + configuration.bootstrapServers where seen.insert(address).inserted {
            switch connections[ConnectionKey(address: address, lane: "")] {
            case .failed(_, let retryAt, _) where retryAt > .now():
                continue
            case .connecting:
                continue
            default:
                break
            }
            do {
                _ = try await connection(to: address)
                return
            } catch {
                lastError = error
            }
        }
        if let error = currentOutage?.error ?? lastError {
            throw KafkaError(error.code, "no broker reachable: \(error.context)")
        }
    }

    private static func value(of task: Task<KafkaConnection, any Error>) async throws(KafkaError) -> KafkaConnection {
        do {
            return try await task.value
        } catch let error as KafkaError {
            throw error
        } catch {
            throw KafkaError(.connectionFailed, "\(error)")
        }
    }

    private func backoff(attempts: Int) -> TimeAmount {
        let base = configuration.reconnectBackoff.nanoseconds
        let maximum = configuration.reconnectBackoffMax.nanoseconds
        let scaled = base << min(attempts, 20)
        // Up to 20% jitter, so clients do not reconnect in lockstep.
        let jitter = Int64.random(in: 0...max(1, scaled / 5))
        return .nanoseconds(min(maximum, scaled + jitter))
    }

    private func connectionClosed(_ connection: KafkaConnection, key: ConnectionKey) {
        if case .connected(let current) = connections[key], current === connection {
            connections[key] = nil
            // Leaders may have moved: whatever was learnt over this connection is suspect.
            metadataFetchedAt = nil
            logger.debug("connection closed", metadata: ["kafka.broker": "\(connection.address)"])
        }
    }

    // MARK: Metadata

    /// Metadata for the given topics, from the cache when it is fresh and complete.
    public func metadata(for topicNames: [String]) async throws(KafkaError) -> [String: KafkaTopicMetadata] {
        let fresh = metadataFetchedAt.map { .now() - $0 < configuration.metadataMaxAge } ?? false
        if !fresh || topicNames.contains(where: { topics[$0] == nil }) {
            try await refreshMetadata(topics: Array(Set(topicNames).union(topics.keys)))
        }
        var result: [String: KafkaTopicMetadata] = [:]
        for name in topicNames {
            if let metadata = topics[name] {
                result[name] = metadata
            } else {
                let code = topicErrors[name] ?? .unknownTopicOrPartition
                throw KafkaError.broker(code, "topic '\(name)'")
            }
        }
        return result
    }

    /// Metadata for one topic.
    public func metadata(for topic: String) async throws(KafkaError) -> KafkaTopicMetadata {
        try await metadata(for: [topic])[topic]!
    }

    /// The node id leading a partition, from the cache.
    public func leader(for partition: KafkaTopicPartition) -> Int32? {
        guard let topic = topics[partition.topic], Int(partition.partition) < topic.partitions.count else { return nil }
        let leader = topic.partitions[Int(partition.partition)].leader
        return leader >= 0 ? leader : nil
    }

    /// The cached metadata of every topic, as last fetched.
    public var knownTopics: [String: KafkaTopicMetadata] { topics }

    /// Marks the cache stale, so the next use fetches it again.
    public func invalidateMetadata() {
        metadataFetchedAt = nil
    }

    /// Names of all topics in the cluster (fetches metadata for all topics).
    public func allTopicNames() async throws(KafkaError) -> [String] {
        let response = try await fetchMetadata(topics: nil)
        return response.topics.compactMap { $0.errorCode == 0 ? $0.name : nil }.filter { !$0.hasPrefix("__") }.sorted()
    }

    /// Fetches metadata for `topics` (and keeps the cached entries of others). Concurrent callers share one request.
    public func refreshMetadata(topics names: [String]) async throws(KafkaError) {
        if let running = metadataRefresh {
            _ = try? await running.value
            if metadataFetchedAt != nil, names.allSatisfy({ topics[$0] != nil }) { return }
        }
        let task = Task { () async throws -> Void in
            let response = try await self.fetchMetadata(topics: names)
            self.apply(response, requested: names)
        }
        metadataRefresh = task
        defer { metadataRefresh = nil }
        do {
            try await task.value
        } catch let error as KafkaError {
            throw error
        } catch {
            throw KafkaError(.connectionFailed, "metadata: \(error)")
        }
    }

    private func fetchMetadata(topics names: [String]?) async throws(KafkaError) -> KafkaMetadataResponse {
        let connection = try await anyConnection()
        let request = KafkaMetadataRequest(
            topics: names.map { $0.map { KafkaMetadataRequest.MetadataRequestTopic(name: $0) } },
            allowAutoTopicCreation: false
        )
        return try await connection.send(request)
    }

    private func apply(_ response: KafkaMetadataResponse, requested: [String]) {
        for broker in response.brokers {
            brokers[broker.nodeId] = .init(host: broker.host, port: Int(broker.port))
        }
        for topic in response.topics {
            guard let name = topic.name else { continue }
            let code = KafkaErrorCode(rawValue: topic.errorCode)
            if code != .none {
                topics[name] = nil
                topicErrors[name] = code
                continue
            }
            topicErrors[name] = nil
            let partitions = topic.partitions
                .map {
                    KafkaPartitionMetadata(
                        partition: $0.partitionIndex,
                        leader: $0.leaderId,
                        leaderEpoch: $0.leaderEpoch,
                        error: KafkaErrorCode(rawValue: $0.errorCode)
                    )
                }
                .sorted { $0.partition < $1.partition }
            topics[name] = KafkaTopicMetadata(
                name: name,
                topicID: topic.topicId,
                isInternal: topic.isInternal,
                partitions: partitions
            )
        }
        for name in requested where !response.topics.contains(where: { $0.name == name }) {
            topics[name] = nil
            topicErrors[name] = .unknownTopicOrPartition
        }
        metadataFetchedAt = .now()
    }

    // MARK: Coordinators

    /// The connection to a consumer group's coordinator.
    public func groupCoordinator(for group: String, refresh: Bool = false) async throws(KafkaError) -> KafkaConnection {
        if !refresh, let node = coordinators[group], let address = coordinatorAddresses[node] {
            return try await connection(to: address)
        }
        let connection = try await anyConnection()
        let version = try connection.version(for: KafkaFindCoordinatorRequest.self)
        let request: KafkaFindCoordinatorRequest
        if version >= 4 {
            request = KafkaFindCoordinatorRequest(keyType: 0, coordinatorKeys: [group])
        } else {
            request = KafkaFindCoordinatorRequest(key: group, keyType: 0)
        }
        let response = try await connection.send(request, version: version)
        let node: Int32
        let host: String
        let port: Int32
        var code = KafkaErrorCode(rawValue: response.errorCode)
        if version >= 4 {
            guard let coordinator = response.coordinators.first(where: { $0.key == group }) else {
                throw KafkaError(.protocolViolation, "FindCoordinator answered without group '\(group)'")
            }
            code = KafkaErrorCode(rawValue: coordinator.errorCode)
            (node, host, port) = (coordinator.nodeId, coordinator.host, coordinator.port)
        } else {
            (node, host, port) = (response.nodeId, response.host, response.port)
        }
        guard code == .none else { throw KafkaError.broker(code, "FindCoordinator for group '\(group)'") }
        let address = KafkaClientConfiguration.BrokerAddress(host: host, port: Int(port))
        coordinators[group] = node
        coordinatorAddresses[node] = address
        return try await self.connection(to: address)
    }

    /// Forgets a group's coordinator after NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE.
    public func invalidateCoordinator(for group: String) {
        coordinators[group] = nil
    }
}

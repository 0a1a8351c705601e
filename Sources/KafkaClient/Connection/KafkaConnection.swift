import KafkaWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// One TCP (or TLS) connection to one broker, with pipelined requests and the API versions negotiated when it
/// opened.
///
/// Requests may be sent from any task at once; answers are matched to them by order and correlation id.
public final class KafkaConnection: Sendable {
    /// The broker this connection reaches, as `host:port` (and its node id once known from metadata).
    public let address: KafkaClientConfiguration.BrokerAddress
    /// The version ranges the broker announced, by API key.
    public let brokerVersions: [Int16: ClosedRange<Int16>]
    let channel: any Channel
    private let clientID: String?
    private let requestTimeout: TimeAmount
    private let nextCorrelationID = NIOLockedValueBox<Int32>(1)

    private init(
        address: KafkaClientConfiguration.BrokerAddress,
        channel: any Channel,
        brokerVersions: [Int16: ClosedRange<Int16>],
        clientID: String?,
        requestTimeout: TimeAmount
    ) {
        self.address = address
        self.channel = channel
        self.brokerVersions = brokerVersions
        self.clientID = clientID
        self.requestTimeout = requestTimeout
    }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// The event loop the connection's I/O runs on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Opens a connection: TCP, then TLS and SASL when configured, then ApiVersions.
    public static func connect(
        to address: KafkaClientConfiguration.BrokerAddress,
        configuration: KafkaClientConfiguration,
        sslContext: NIOSSLContext?,
        eventLoop: any EventLoop,
        logger: Logger
    ) async throws(KafkaError) -> KafkaConnection {
        let label = address.description
        let maximumResponseSize = configuration.maximumResponseSize
        let serverHostname = configuration.tlsServerHostname ?? address.host
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(configuration.timeouts.connect)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            let hostname = isIPAddress(serverHostname) ? nil : serverHostname
                            let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: hostname)
                            try channel.pipeline.syncOperations.addHandler(tls)
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(KafkaFrameDecoder(maximumFrameSize: maximumResponseSize))
                        )
                        try channel.pipeline.syncOperations.addHandler(KafkaRequestHandler(brokerLabel: label))
                    }
                }
                .connect(host: address.host, port: address.port)
                .get()
        } catch {
            throw KafkaError(.connectionFailed, "\(label): \(error)")
        }
        // Until ApiVersions has answered, a connection knows nothing of the broker's versions.
        let bootstrap = KafkaConnection(
            address: address,
            channel: channel,
            brokerVersions: [:],
            clientID: configuration.clientID,
            requestTimeout: configuration.timeouts.connect
        )
        do {
            let versions = try await bootstrap.negotiateVersions()
            let connection = KafkaConnection(
                address: address,
                channel: channel,
                brokerVersions: versions,
                clientID: configuration.clientID,
                requestTimeout: configuration.timeouts.request
            )
            connection.nextCorrelationID.withLockedValue { $0 = 100 }
            if let sasl = configuration.sasl {
                try await connection.authenticate(sasl)
            }
            logger.debug("connected", metadata: ["kafka.broker": "\(label)"])
            return connection
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Closes the connection; waiting requests fail with `connectionFailed`.
    public func close() {
        channel.close(promise: nil)
    }

    /// The version to use for a request type: the highest both sides support.
    public func version<Request: KafkaRequestMessage>(for request: Request.Type) throws(KafkaError) -> Int16 {
        guard let broker = brokerVersions[Request.apiKey.rawValue] else {
            throw KafkaError(.unsupportedVersion, "\(address) does not support \(Request.apiKey)")
        }
        let ours = Request.supportedVersions
        let high = min(ours.upperBound, broker.upperBound)
        guard high >= max(ours.lowerBound, broker.lowerBound) else {
            throw KafkaError(
                .unsupportedVersion,
                "\(Request.apiKey): \(address) supports versions \(broker), this client \(ours)"
            )
        }
        return high
    }

    /// Sends a request and waits for its answer.
    ///
    /// - Parameters:
    ///   - version: a version to use instead of the negotiated one (it must be one the broker supports).
    ///   - extraTimeout: added to the request timeout, for requests the broker may hold (Fetch's max wait,
    ///     JoinGroup's rebalance timeout).
    public func send<Request: KafkaRequestMessage>(
        _ request: Request,
        version: Int16? = nil,
        extraTimeout: TimeAmount = .zero
    ) async throws(KafkaError) -> Request.Response {
        let version = try resolvedVersion(version, for: Request.self)
        var frame = try await sendFrame(request, version: version, expectsResponse: true, extraTimeout: extraTimeout)
        do {
            return try Request.Response.readBody(from: &frame, version: version)
        } catch {
            // Bytes that cannot be read mean the stream itself cannot be trusted any more.
            close()
            throw KafkaError(.protocolViolation, "\(address): \(Request.apiKey) v\(version) response: \(error)")
        }
    }

    /// Sends a request without waiting: the future is its answer, completed on the connection's event loop (where
    /// a caller that must not hop threads goes on).
    func sendNow<Request: KafkaRequestMessage>(
        _ request: Request, extraTimeout: TimeAmount = .zero
    ) throws(KafkaError) -> EventLoopFuture<Request.Response> {
        let version = try self.version(for: Request.self)
        let address = address
        return try write(request, version: version, expectsResponse: true, extraTimeout: extraTimeout)
            .flatMapErrorThrowing { error in
                throw error as? KafkaError ?? KafkaError(.connectionFailed, "\(address): \(error)")
            }
            .flatMapThrowing { frame in
                var frame = frame
                do {
                    return try Request.Response.readBody(from: &frame, version: version)
                } catch {
                    self.close()
                    throw KafkaError(.protocolViolation, "\(address): \(Request.apiKey) v\(version) response: \(error)")
                }
            }
    }

    /// Sends a request the broker will not answer (Produce with acks=0); returns once it is written.
    public func sendWithoutResponse<Request: KafkaRequestMessage>(
        _ request: Request,
        version: Int16? = nil
    ) async throws(KafkaError) {
        let version = try resolvedVersion(version, for: Request.self)
        _ = try await sendFrame(request, version: version, expectsResponse: false, extraTimeout: .zero)
    }

    private func resolvedVersion<Request: KafkaRequestMessage>(
        _ version: Int16?,
        for request: Request.Type
    ) throws(KafkaError) -> Int16 {
        if let version { return version }
        return try self.version(for: Request.self)
    }

    private func sendFrame<Request: KafkaRequestMessage>(
        _ request: Request,
        version: Int16,
        expectsResponse: Bool,
        extraTimeout: TimeAmount
    ) async throws(KafkaError) -> ByteBuffer {
        let answer = try write(request, version: version, expectsResponse: expectsResponse, extraTimeout: extraTimeout)
        do {
            return try await answer.get()
        } catch let error as KafkaError {
            throw error
        } catch {
            throw KafkaError(.connectionFailed, "\(address): \(error)")
        }
    }

    /// Encodes and writes the request; the future is its answer. Nothing here outlives the write: the frame's
    /// buffers (a producer's batches among them) are held only until NIO has written them.
    private func write<Request: KafkaRequestMessage>(
        _ request: Request,
        version: Int16,
        expectsResponse: Bool,
        extraTimeout: TimeAmount
    ) throws(KafkaError) -> EventLoopFuture<ByteBuffer> {
        let correlationID = nextCorrelationID.withLockedValue { id in
            defer { id = id == Int32.max ? 1 : id + 1 }
            return id
        }
        let frame: [ByteBuffer]
        do {
            if let segmented = request as? any KafkaSegmentedRequestMessage {
                frame = try segmented.writeFrameSegments(
                    version: version, correlationID: correlationID, clientID: clientID)
            } else {
                var buffer = channel.allocator.buffer(capacity: 256)
                try request.writeFrame(
                    into: &buffer, version: version, correlationID: correlationID, clientID: clientID)
                frame = [buffer]
            }
        } catch {
            throw KafkaError(.protocolViolation, "\(Request.apiKey) v\(version) request: \(error)")
        }
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        // A write to a connection that closed before the request reached the request handler (a TLS handshake
        // that failed, say) never meets the handler that would answer it: its failure is the request's, which
        // the callers map to `connectionFailed` as any other. (A request the handler already answered or failed
        // keeps that outcome; a second completion is ignored.)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.cascadeFailure(to: promise)
        channel.writeAndFlush(
            KafkaOutboundRequest(
                frame: frame,
                correlationID: correlationID,
                expectsResponse: expectsResponse,
                promise: promise,
                deadline: .now() + requestTimeout + extraTimeout,
                label: "\(Request.apiKey) v\(version)"
            ),
            promise: written
        )
        return promise.futureResult
    }

    /// ApiVersions at the highest version this client knows. A broker that does not know that version answers
    /// UNSUPPORTED_VERSION in the version 0 layout, listing its own range, and the request is sent again at the
    /// highest version both know.
    private func negotiateVersions() async throws(KafkaError) -> [Int16: ClosedRange<Int16>] {
        var version = KafkaApiVersionsRequest.supportedVersions.upperBound
        for _ in 0..<2 {
            let request = KafkaApiVersionsRequest(clientSoftwareName: "sluice-kafka", clientSoftwareVersion: "1.0")
            var frame = try await sendFrame(request, version: version, expectsResponse: true, extraTimeout: .zero)
            guard let errorCode = frame.getInteger(at: frame.readerIndex, endianness: .big, as: Int16.self) else {
                throw KafkaError(.protocolViolation, "\(address): empty ApiVersions response")
            }
            let readVersion = errorCode == KafkaErrorCode.unsupportedVersion.rawValue ? 0 : version
            let response: KafkaApiVersionsResponse
            do {
                response = try KafkaApiVersionsResponse.readBody(from: &frame, version: readVersion)
            } catch {
                throw KafkaError(.protocolViolation, "\(address): ApiVersions response: \(error)")
            }
            var versions: [Int16: ClosedRange<Int16>] = [:]
            for key in response.apiKeys where key.minVersion <= key.maxVersion {
                versions[key.apiKey] = key.minVersion...key.maxVersion
            }
            if response.errorCode == 0 { return versions }
            guard response.errorCode == KafkaErrorCode.unsupportedVersion.rawValue,
                let brokerRange = versions[KafkaAPIKey.apiVersions.rawValue], brokerRange.upperBound < version
            else {
                throw KafkaError.broker(KafkaErrorCode(rawValue: response.errorCode), "\(address): ApiVersions")
            }
            version = brokerRange.upperBound
        }
        throw KafkaError(.unsupportedVersion, "\(address): ApiVersions could not be negotiated")
    }
}

/// Whether `host` is an IP literal (TLS sends no SNI for those).
func isIPAddress(_ host: String) -> Bool {
    (try? SocketAddress(ipAddress: host, port: 0)) != nil
}

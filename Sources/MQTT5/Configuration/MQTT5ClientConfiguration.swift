import NIOCore
import NIOSSL

/// How an `MQTT5Client` reaches its server and what it announces there.
public struct MQTT5ClientConfiguration: Sendable {
    /// The waits between reconnection attempts: exponential, with jitter so that many clients losing one server do
    /// not all come back at the same moment.
    public struct ReconnectBackoff: Sendable, Hashable {
        /// The wait after the first failure. Default: 100 ms.
        public var initialDelay: TimeAmount = .milliseconds(100)
        /// The longest wait. Default: 30 s.
        public var maximumDelay: TimeAmount = .seconds(30)
        /// What each further failure multiplies the wait by. Default: 2.
        public var multiplier: Double = 2
        /// The random share of each wait: 0.2 waits between 80 % and 100 % of the computed delay. Default: 0.2.
        public var jitter: Double = 0.2

        public init() {}
    }

    /// The server's host name or address.
    public var host: String
    /// Default: 1883 (use 8883 with TLS).
    public var port: Int
    /// The Client Identifier; empty asks the server to assign one (then `cleanStart` should be true). Default: the
    /// one given to `init`.
    public var clientIdentifier: String
    /// TLS towards the server when set. Default: none (plain TCP).
    public var tls: TLSConfiguration?
    /// The host name TLS verifies (and sends as SNI) when it differs from `host`. Default: `host`.
    public var tlsServerHostname: String?
    /// Default: none.
    public var userName: String?
    /// Default: none.
    public var password: ByteBuffer?
    /// The longest the client stays silent; it sends PINGREQ when it has nothing else to send, and takes a server
    /// silent for 1.5 times this as dead. Whole seconds, at most 65,535; zero turns keep-alive off. Default: 60 s.
    public var keepAlive: TimeAmount = .seconds(60)
    /// Whether the first connection discards any session the server holds for `clientIdentifier`. Reconnections
    /// never do, so a session that has not expired is resumed. Default: true.
    public var cleanStart: Bool = true
    /// Seconds the server keeps the session after the connection ends; 0 ends it with the connection,
    /// 0xFFFFFFFF never. Default: 0.
    public var sessionExpiryInterval: UInt32 = 0
    /// How many QoS 1 and 2 messages the server may send before the client acknowledges them. The client
    /// acknowledges a message once every subscription it went to has handed it to its consumer, so this bounds the
    /// unread QoS 1 and 2 messages the client holds. Default: 32.
    public var receiveMaximum: UInt16 = 32
    /// What to do when the server sends more unacknowledged QoS 1 and 2 messages than `receiveMaximum`. The
    /// specification has the client disconnect with Receive Maximum exceeded (0x93); `true` does that. mosquitto
    /// 2.0.11 (Debian 12, Ubuntu 22.04) exceeds it whenever messages queue for a slow client, so by default the
    /// client instead stops reading from the connection until its consumers are back within the maximum: the
    /// server's TCP send buffer fills and it stops sending. Default: false.
    public var strictReceiveMaximum: Bool = false
    /// The largest packet, in bytes, the client accepts; a larger one ends the connection (Packet too large).
    /// Default: 1 MiB.
    public var maximumPacketSize: Int = 1024 * 1024
    /// The highest Topic Alias the server may use in messages to the client; 0 refuses aliases. Default: 16.
    public var topicAliasMaximum: UInt16 = 16
    /// The most Topic Aliases the client uses in messages to the server, within the server's own maximum. Each
    /// of the first topics published gets one, and keeps it for the connection. Default: 16.
    public var outboundTopicAliasMaximum: UInt16 = 16
    /// The Will Message the server publishes if the connection ends without DISCONNECT (or with Disconnect with
    /// Will Message). Default: none.
    public var will: MQTTWill?
    /// Enhanced authentication. Default: none.
    public var authenticator: (any MQTT5Authenticator)?
    /// User Properties of the CONNECT. Default: none.
    public var connectUserProperties: [MQTTUserProperty] = []
    /// How long opening a connection may take: TCP, TLS and CONNACK each. Default: 10 s.
    public var connectTimeout: TimeAmount = .seconds(10)
    public var reconnectBackoff = ReconnectBackoff()
    /// On graceful shutdown and `disconnect`: how long publishes already made get to be acknowledged before the
    /// client sends DISCONNECT. Default: 5 s.
    public var shutdownDrainTimeout: TimeAmount = .seconds(5)
    /// The messages a subscription holds for its consumer. QoS 0 messages arriving when it is full are dropped and
    /// counted (`MQTT5Subscription.droppedMessageCount`). QoS 1 and 2 messages are held back by the Receive
    /// Maximum instead. Default: 100.
    public var subscriptionBufferSize: Int = 100
    /// Publishes that may wait for a connection or for room under the server's Receive Maximum; more fail with
    /// `tooManyPendingRequests`. Also the most `enqueuePublish` messages outstanding at once: a caller beyond
    /// that waits until half of them have completed. Default: 1,000.
    public var maximumPendingPublishes: Int = 1000

    public init(host: String, port: Int = 1883, clientIdentifier: String) {
        self.host = host
        self.port = port
        self.clientIdentifier = clientIdentifier
    }

    /// Throws `invalidArgument` for values the protocol cannot carry.
    public func validate() throws(MQTT5ClientError) {
        func invalid(_ detail: String) -> MQTT5ClientError { MQTT5ClientError(.invalidArgument, detail) }
        guard (1...65535).contains(port) else { throw invalid("port \(port)") }
        guard keepAlive.nanoseconds >= 0, keepAlive.nanoseconds % 1_000_000_000 == 0,
            keepAlive.nanoseconds / 1_000_000_000 <= Int64(UInt16.max)
        else { throw invalid("keep-alive \(keepAlive): whole seconds, at most 65,535") }
        guard receiveMaximum > 0 else { throw invalid("a Receive Maximum of 0") }
        guard (1...MQTTPacketDecoder.protocolMaximumPacketSize).contains(maximumPacketSize) else {
            throw invalid("a Maximum Packet Size of \(maximumPacketSize)")
        }
        guard subscriptionBufferSize > 0 else { throw invalid("a subscription buffer of \(subscriptionBufferSize)") }
        guard maximumPendingPublishes > 0 else { throw invalid("\(maximumPendingPublishes) pending publishes") }
        guard connectTimeout.nanoseconds > 0 else { throw invalid("a connect timeout of \(connectTimeout)") }
        if let will {
            do throws(MQTTProtocolError) {
                try MQTTTopic.validateName(will.topic)
                try will.properties.validate(in: .will)
            } catch {
                throw invalid("Will: \(error)")
            }
        }
    }

    /// The CONNECT for one connection attempt; `clientIdentifier` replaces the configured one (with the one the
    /// server assigned, so that a reconnection finds its session).
    func connectPacket(
        cleanStart: Bool,
        authenticationData: ByteBuffer?,
        clientIdentifier: String? = nil
    ) -> MQTTConnectPacket {
        var properties = MQTTProperties()
        if sessionExpiryInterval != 0 { properties.sessionExpiryInterval = sessionExpiryInterval }
        if receiveMaximum != UInt16.max { properties.receiveMaximum = receiveMaximum }
        if maximumPacketSize < MQTTPacketDecoder.protocolMaximumPacketSize {
            properties.maximumPacketSize = UInt32(maximumPacketSize)
        }
        if topicAliasMaximum != 0 { properties.topicAliasMaximum = topicAliasMaximum }
        properties.userProperties = connectUserProperties
        if let authenticator {
            properties.authenticationMethod = authenticator.method
            properties.authenticationData = authenticationData
        }
        return MQTTConnectPacket(
            clientIdentifier: clientIdentifier ?? self.clientIdentifier, cleanStart: cleanStart,
            keepAlive: UInt16(keepAlive.nanoseconds / 1_000_000_000), properties: properties, will: will,
            userName: userName, password: password)
    }

    var sessionConfiguration: MQTTSessionStateMachine.Configuration {
        MQTTSessionStateMachine.Configuration(
            receiveMaximum: receiveMaximum, topicAliasMaximum: topicAliasMaximum,
            outboundTopicAliasMaximum: outboundTopicAliasMaximum, maximumPendingPublishes: maximumPendingPublishes,
            strictReceiveMaximum: strictReceiveMaximum)
    }
}

import NIOCore
import NIOSSL

/// How a client reaches and talks to a Kafka cluster.
public struct KafkaClientConfiguration: Sendable {
    /// A broker address, `host:port`.
    public struct BrokerAddress: Hashable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port` (`[v6]:port` for IPv6 literals); nil when it is not one.
        public init?(_ text: String) {
            let trimmed = String(text.filter { !$0.isWhitespace })
            guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]),
                (1...65535).contains(port)
            else { return nil }
            var host = String(trimmed[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// SASL authentication after the connection is open (and after TLS, when both are on).
    public struct SASL: Sendable {
        public enum Mechanism: String, Sendable, CaseIterable {
            case plain = "PLAIN"
            case scramSHA256 = "SCRAM-SHA-256"
            case scramSHA512 = "SCRAM-SHA-512"
        }

        public var mechanism: Mechanism
        public var username: String
        public var password: String

        public init(mechanism: Mechanism, username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// Time limits.
    public struct Timeouts: Sendable {
        /// Opening a TCP connection (and TLS, SASL). Default: 10 s.
        public var connect: TimeAmount = .seconds(10)
        /// Waiting for the answer to one request; a request that runs over closes its connection, as answers come
        /// in order. Default: 30 s.
        public var request: TimeAmount = .seconds(30)

        public init() {}
    }

    /// The seed brokers; the rest of the cluster is learnt from metadata.
    public var bootstrapServers: [BrokerAddress]
    /// Sent with every request, shown in broker logs and quotas. Default: "sluice".
    public var clientID: String = "sluice"
    /// TLS towards every broker when set. Default: none (plaintext).
    public var tls: TLSConfiguration?
    /// The host name TLS verifies when it differs from the address. Default: the broker's host.
    public var tlsServerHostname: String?
    /// SASL credentials when set. Default: none.
    public var sasl: SASL?
    public var timeouts = Timeouts()
    /// The first wait before reconnecting to a broker; doubles on each failure up to `reconnectBackoffMax`.
    /// Default: 50 ms.
    public var reconnectBackoff: TimeAmount = .milliseconds(50)
    /// Default: 1 s.
    public var reconnectBackoffMax: TimeAmount = .seconds(1)
    /// Metadata older than this is refreshed before it is used. Default: 5 minutes.
    public var metadataMaxAge: TimeAmount = .minutes(5)
    /// The largest response frame accepted. Default: 100 MiB.
    public var maximumResponseSize: Int = 100 * 1024 * 1024

    public init(bootstrapServers: [BrokerAddress]) {
        self.bootstrapServers = bootstrapServers
    }

    /// A configuration from a comma-separated `host:port` list, as Kafka users write `bootstrap.servers`.
    public init(bootstrapServers: String) throws(KafkaError) {
        let parts = bootstrapServers.split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
        var addresses: [BrokerAddress] = []
        for part in parts {
            guard let address = BrokerAddress(part) else {
                throw KafkaError(.invalidConfiguration, "bootstrap server '\(part)' is not host:port")
            }
            addresses.append(address)
        }
        guard !addresses.isEmpty else {
            throw KafkaError(.invalidConfiguration, "no bootstrap servers")
        }
        self.init(bootstrapServers: addresses)
    }
}

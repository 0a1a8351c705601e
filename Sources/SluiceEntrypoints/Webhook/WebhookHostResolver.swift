public import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How webhook deliveries turn a callback's host name into addresses when the gateway checks callback addresses
/// (``SluiceCore/WebhookCallbackPolicy/checksAddresses``): the system resolver by default, run off the event loops
/// and the task pool.
public struct WebhookHostResolver: Sendable {
    /// The addresses of a host name, as numeric text (`203.0.113.7`, `2001:db8::1`).
    public var resolve: @Sendable (_ host: String) async throws -> [String]
    /// How long a delivery keeps connecting to an address it checked before it resolves the name again.
    public var recheckAfter: Duration

    public init(recheckAfter: Duration = .seconds(30), resolve: @escaping @Sendable (String) async throws -> [String]) {
        self.resolve = resolve
        self.recheckAfter = recheckAfter
    }

    /// `getaddrinfo`, on NIO's blocking-work thread pool.
    public static let system = WebhookHostResolver { host in
        try await NIOThreadPool.singleton.runIfActive { try addresses(of: host) }
    }

    /// A name that does not resolve.
    public struct Failure: Error, CustomStringConvertible {
        public var host: String
        public var reason: String
        public var description: String { "cannot resolve '\(host)': \(reason)" }
    }

    static func addresses(of host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var result: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if let address = current.pointee.ai_addr,
                getnameinfo(
                    address, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
                    == 0
            {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !result.contains(text) { result.append(text) }
            }
            entry = current.pointee.ai_next
        }
        return result
    }
}

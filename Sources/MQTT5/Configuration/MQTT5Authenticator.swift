import NIOCore

/// Enhanced authentication (section 4.12): a challenge and response exchange named by an Authentication Method,
/// carried in CONNECT, AUTH and CONNACK. The client calls these methods on its event loop, so they must not block:
/// compute, do not wait for I/O (fetch a token before the client connects).
public protocol MQTT5Authenticator: Sendable {
    /// The Authentication Method, such as `SCRAM-SHA-256`; sent in CONNECT and in every AUTH.
    var method: String { get }

    /// The Authentication Data of the CONNECT, or of the AUTH that starts a re-authentication; nil for none.
    func initialData() throws -> ByteBuffer?

    /// The answer to the server's AUTH with Continue authentication (0x18) and its Authentication Data.
    /// Throwing ends the connection with `authenticationFailed`.
    func respond(to challenge: ByteBuffer?) throws -> ByteBuffer?

    /// The server accepted: the Authentication Data of its CONNACK, or of its AUTH Success after a
    /// re-authentication. Throwing (a server that failed to prove itself) ends the connection with
    /// `authenticationFailed`. Default: accepts.
    func completed(with data: ByteBuffer?) throws
}

extension MQTT5Authenticator {
    public func completed(with data: ByteBuffer?) throws {}
}

/// An `MQTT5Authenticator` made of closures.
public struct MQTT5ClosureAuthenticator: MQTT5Authenticator {
    public let method: String
    private let initial: @Sendable () throws -> ByteBuffer?
    private let respond: @Sendable (ByteBuffer?) throws -> ByteBuffer?
    private let complete: @Sendable (ByteBuffer?) throws -> Void

    public init(
        method: String,
        initialData: @escaping @Sendable () throws -> ByteBuffer? = { nil },
        respond: @escaping @Sendable (ByteBuffer?) throws -> ByteBuffer?,
        completed: @escaping @Sendable (ByteBuffer?) throws -> Void = { _ in }
    ) {
        self.method = method
        self.initial = initialData
        self.respond = respond
        self.complete = completed
    }

    public func initialData() throws -> ByteBuffer? { try initial() }
    public func respond(to challenge: ByteBuffer?) throws -> ByteBuffer? { try respond(challenge) }
    public func completed(with data: ByteBuffer?) throws { try complete(data) }
}

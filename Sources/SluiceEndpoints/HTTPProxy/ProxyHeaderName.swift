/// The header names a proxy treats specially, told apart from the name as the client or backend wrote it, in any
/// case, without lower-casing it: the forwarding code looks at every header of every request and response, and
/// making a lower-cased copy of each name cost more than the rest of its work.
public enum ProxyHeaderName: Equatable, Sendable {
    /// `Connection`: hop-by-hop, and it may name more headers that are.
    case connection
    /// `Transfer-Encoding`: hop-by-hop; the body's framing is the proxy's own on each side.
    case transferEncoding
    /// The other hop-by-hop headers: `Keep-Alive`, `Proxy-Connection`, `Proxy-Authorization`,
    /// `Proxy-Authenticate`, `TE`, `Trailer`, `Upgrade`.
    case hopByHop
    /// `X-Forwarded-For`, to which the proxy appends the client's address.
    case forwardedFor
    /// `X-Forwarded-Proto`, `-Host`, `-Port` and `-Prefix`: set by the proxy, replacing the client's.
    case forwardedSet
    case host
    case acceptEncoding
    case authorization
    case contentLength
    /// Any other name.
    case other

    public init(_ name: String) {
        var name = name
        self = name.withUTF8 { Self.classify($0) }
    }

    private static func classify(_ name: UnsafeBufferPointer<UInt8>) -> ProxyHeaderName {
        func named(_ expected: StaticString) -> Bool {
            Self.equalsLowercased(name, expected)
        }
        switch name.count {
        case 2: return named("te") ? .hopByHop : .other
        case 4: return named("host") ? .host : .other
        case 7: return named("trailer") || named("upgrade") ? .hopByHop : .other
        case 10:
            if named("connection") { return .connection }
            return named("keep-alive") ? .hopByHop : .other
        case 13: return named("authorization") ? .authorization : .other
        case 14: return named("content-length") ? .contentLength : .other
        case 15:
            if named("x-forwarded-for") { return .forwardedFor }
            return named("accept-encoding") ? .acceptEncoding : .other
        case 16:
            if named("proxy-connection") { return .hopByHop }
            return named("x-forwarded-host") || named("x-forwarded-port") ? .forwardedSet : .other
        case 17:
            if named("transfer-encoding") { return .transferEncoding }
            return named("x-forwarded-proto") ? .forwardedSet : .other
        case 18:
            if named("proxy-authenticate") { return .hopByHop }
            return named("x-forwarded-prefix") ? .forwardedSet : .other
        case 19: return named("proxy-authorization") ? .hopByHop : .other
        default: return .other
        }
    }

    /// Whether the header is hop-by-hop (never forwarded, either way).
    public var isHopByHop: Bool {
        switch self {
        case .connection, .transferEncoding, .hopByHop: true
        default: false
        }
    }

    /// Adds to `names` the header names a `Connection` value lists (lower-cased), leaving out its `close` and
    /// `keep-alive` options, which name no header to remove (`Keep-Alive` is hop-by-hop anyway). The usual values
    /// (`keep-alive`, `close`) add nothing and allocate nothing.
    public static func nominated(by value: String, into names: inout Set<String>?) {
        let bytes = value.utf8
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.startIndex
        // Token by token, in place (a split would allocate the list of tokens).
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            let token = bytes[start..<end]
            start = end < bytes.endIndex ? bytes.index(after: end) : end
            guard let first = token.firstIndex(where: { !isSpace($0) }),
                let last = token.lastIndex(where: { !isSpace($0) })
            else { continue }
            let trimmed = token[first...last]
            if Self.equals(trimmed, lowercased: "close") || Self.equals(trimmed, lowercased: "keep-alive") { continue }
            names = names ?? []
            names!.insert(String(decoding: trimmed.map { Self.lower($0) }, as: UTF8.self))
        }
    }

    /// Whether `name` is `lowercased` in any case (`lowercased` holds no upper-case letter).
    public static func equals(_ name: String, lowercased: String) -> Bool {
        equals(name.utf8, lowercased: lowercased)
    }

    static func equals(_ name: some Collection<UInt8>, lowercased: String) -> Bool {
        guard name.count == lowercased.utf8.count else { return false }
        for (byte, expected) in zip(name, lowercased.utf8) where Self.lower(byte) != expected {
            return false
        }
        return true
    }

    /// Compares against a lower-case ASCII name. Folding only letters keeps `[` from matching `{` and the like.
    private static func equalsLowercased(_ name: UnsafeBufferPointer<UInt8>, _ expected: StaticString) -> Bool {
        guard name.count == expected.utf8CodeUnitCount else { return false }
        let pointer = expected.utf8Start
        for index in 0..<name.count where Self.lower(name[index]) != pointer[index] {
            return false
        }
        return true
    }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}

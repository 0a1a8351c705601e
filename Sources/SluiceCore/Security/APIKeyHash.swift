import Crypto

/// The SHA-256 digest of an API key: what the gateway keeps instead of the key itself.
public struct APIKeyHash: Sendable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public let bytes: [UInt8]

    /// Hashes a key as presented by a client or written in clear in an access file.
    public init(key: some StringProtocol) {
        self.bytes = Array(SHA256.digest(ofUTF8: key))
    }

    /// Reads `sha256:<64 hex digits>`; nil for anything else.
    public init?(text: String) {
        guard text.lowercased().hasPrefix("sha256:") else { return nil }
        let hex = Array(text.utf8.dropFirst(7))
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Self.nibble(hex[index]), let low = Self.nibble(hex[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    /// A lookup key that says nothing useful about the key: the first 8 bytes of its digest.
    var bucket: UInt64 {
        bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Compares two digests in time that does not depend on where they differ.
    public func constantTimeEquals(_ other: APIKeyHash) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        var difference: UInt8 = 0
        for index in bytes.indices { difference |= bytes[index] ^ other.bytes[index] }
        return difference == 0
    }

    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = "sha256:"
        for byte in bytes {
            text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
            text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
        }
        return text
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension SHA256 {
    /// The digest of `text`'s UTF-8 bytes, read in place when they are contiguous (a request's header always is):
    /// API keys and bearer tokens are hashed on every request.
    static func digest(ofUTF8 text: some StringProtocol) -> SHA256.Digest {
        var hasher = SHA256()
        let done: Void? = text.utf8.withContiguousStorageIfAvailable {
            hasher.update(bufferPointer: UnsafeRawBufferPointer($0))
        }
        if done == nil { hasher.update(data: Array(text.utf8)) }
        return hasher.finalize()
    }
}

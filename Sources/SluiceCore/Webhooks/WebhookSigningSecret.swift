import Crypto
public import Foundation

/// A Standard Webhooks signing secret: `whsec_` followed by the base64 of the key bytes.
public struct WebhookSigningSecret: Sendable, Hashable {
    /// The HMAC key.
    public let key: Data

    /// Reads `whsec_<base64>`; nil when the prefix is missing, the base64 does not decode, or the key is shorter
    /// than 24 bytes or longer than 64 (the specification's bounds).
    public init?(_ text: String) {
        guard text.hasPrefix("whsec_"), let key = Data(base64Encoded: String(text.dropFirst(6))),
            (24...64).contains(key.count)
        else { return nil }
        self.key = key
    }

    /// The `webhook-signature` value for one delivery: `v1,` and the base64 of HMAC-SHA256 over
    /// `id.timestamp.body`.
    public func signature(id: String, timestamp: Int64, body: some DataProtocol) -> String {
        var authenticator = HMAC<SHA256>(key: SymmetricKey(data: key))
        authenticator.update(data: Data("\(id).\(timestamp).".utf8))
        authenticator.update(data: body)
        return "v1," + Data(authenticator.finalize()).base64EncodedString()
    }

    /// Whether `header` (space-separated `v1,<base64>` signatures, as a receiver reads it) holds the signature of
    /// this delivery: what a receiver checks, compared in constant time.
    public func verify(header: String, id: String, timestamp: Int64, body: some DataProtocol) -> Bool {
        let expected = Array(signature(id: id, timestamp: timestamp, body: body).utf8)
        var found = false
        for candidate in header.split(separator: " ") {
            let bytes = Array(candidate.utf8)
            guard bytes.count == expected.count else { continue }
            var difference: UInt8 = 0
            for index in bytes.indices { difference |= bytes[index] ^ expected[index] }
            if difference == 0 { found = true }
        }
        return found
    }
}

import Crypto
public import Foundation
import Synchronization

/// Verified bearer tokens, so that a token seen again costs a hash and a lookup rather than a signature check or
/// a call to the authorization server. Keyed by the token's SHA-256 digest (the token itself is not kept); each
/// entry expires with its token; the number of entries is bounded (when full, expired entries go first, then
/// arbitrary ones).
public final class TokenCache<Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expiresAt: Date
    }

    private let entries = Mutex<[SHA256Digest: Entry]>([:])
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public func value(for token: some StringProtocol, now: Date) -> Value? {
        let key = SHA256.digest(ofUTF8: token)
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expiresAt <= now {
                entries[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func store(_ value: Value, for token: some StringProtocol, until expiresAt: Date, now: Date) {
        guard expiresAt > now else { return }
        let key = SHA256.digest(ofUTF8: token)
        let capacity = self.capacity
        entries.withLock { entries in
            if entries[key] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.expiresAt > now }
                // Still full: drop about a tenth, whichever they are, rather than one per insert.
                if entries.count >= capacity {
                    for key in entries.keys.prefix(max(1, capacity / 10)) { entries[key] = nil }
                }
            }
            entries[key] = Entry(value: value, expiresAt: expiresAt)
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}

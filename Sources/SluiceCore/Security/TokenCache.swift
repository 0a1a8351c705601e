public import Foundation
import Synchronization

/// Verified bearer tokens, so that a token seen again costs one lookup rather than a signature check or a call to
/// the authorization server. Keyed by the token itself, compared byte for byte (a digest would cost more than the
/// rest of a cached token's check, without SHA instructions); each entry expires with its token; the number of
/// entries is bounded (when full, expired entries go first, then arbitrary ones). Only tokens that passed their
/// checks are kept, each at most `security.maxTokenBytes` long.
public final class TokenCache<Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expiresAt: Date
    }

    private let entries = Mutex<[Substring: Entry]>([:])
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    public func value(for token: Substring, now: Date) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            if entry.expiresAt <= now {
                entries[token] = nil
                return nil
            }
            return entry.value
        }
    }

    public func store(_ value: Value, for token: some StringProtocol, until expiresAt: Date, now: Date) {
        guard expiresAt > now else { return }
        // The token is copied out of the request it came with, which the cache must not keep alive.
        let key = Substring(String(token))
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

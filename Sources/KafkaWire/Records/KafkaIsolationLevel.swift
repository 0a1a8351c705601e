/// Which records of transactions a consumer sees: the Fetch request's `isolation_level`.
public enum KafkaIsolationLevel: Int8, Hashable, Sendable {
    /// Every record, including those of open and aborted transactions.
    case readUncommitted = 0
    /// Records up to the last stable offset, without those of aborted transactions.
    case readCommitted = 1
}

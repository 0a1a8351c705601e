import NIOCore

extension KafkaConsumer {
    /// Waits until fetched records are ready, `deadline` passes or the consumer closes, and returns up to
    /// `maxCount` of them, in offset order per partition: empty when the deadline came first, nil once the
    /// consumer is closed. Throws what the `records` sequence would throw. A cancelled caller gets what is ready
    /// (possibly nothing); records not returned stay for the next read.
    ///
    /// One reader at a time: `poll` and the `records` sequence share one waiting slot.
    public func poll(maxCount: Int, until deadline: NIODeadline?) async throws(KafkaError) -> [KafkaConsumerRecord]? {
        precondition(maxCount > 0)
        while true {
            var records: [KafkaConsumerRecord] = []
            var wakeFetcher = false
            var finished = false
            let failure = state.withLockedValue { state -> KafkaError? in
                while records.count < maxCount {
                    switch state.next() {
                    case .record(let record, let wake):
                        records.append(record)
                        wakeFetcher = wakeFetcher || wake
                    case .failed(let error):
                        // Records already taken go out first; the failure waits for the next read.
                        guard records.isEmpty else {
                            state.putBack(error)
                            return nil
                        }
                        return error
                    case .finished:
                        finished = true
                        return nil
                    case .wait:
                        return nil
                    }
                }
                return nil
            }
            if wakeFetcher { wake() }
            if let failure { throw failure }
            if !records.isEmpty { return records }
            if finished { return nil }
            if Task.isCancelled { return [] }
            if let deadline, deadline <= .now() { return [] }
            let timer = deadline.map { deadline in
                cluster.eventLoopGroup.any().scheduleTask(deadline: deadline) { [state] in
                    state.withLockedValue { $0.takeWaiter() }?.resume()
                }
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    // Checked under the lock: a timer or cancellation either finds the reader parked or stops it
                    // from parking.
                    let parked = state.withLockedValue { state in
                        if Task.isCancelled { return false }
                        if let deadline { return state.wait(continuation, until: deadline) }
                        return state.wait(continuation)
                    }
                    if !parked { continuation.resume() }
                }
            } onCancel: {
                state.withLockedValue { $0.takeWaiter() }?.resume()
            }
            timer?.cancel()
        }
    }
}

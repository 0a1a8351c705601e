import Testing

@testable import SluiceCore

@Suite("webhook delivery state machine")
struct WebhookDeliveryStateMachineTests {
    static func options(
        _ change: (inout WebhookDeliveryStateMachine.Options) -> Void = { _ in }
    )
        -> WebhookDeliveryStateMachine.Options
    {
        var options = WebhookDeliveryStateMachine.Options()
        options.maxRetries = 3
        options.delayMs = 100
        options.maxDelayMs = 350
        change(&options)
        return options
    }

    @Test("backoff doubles from delayMs up to maxDelayMs; jitter spreads the upper half")
    func backoff() {
        let machine = WebhookDeliveryStateMachine(options: Self.options())
        #expect((1...5).map { machine.backoff(attempt: $0, jitter: 1) } == [100, 200, 350, 350, 350])
        #expect((1...5).map { machine.backoff(attempt: $0, jitter: 0) } == [50, 100, 175, 175, 175])
        #expect(machine.backoff(attempt: 2, jitter: 0.5) == 150)
        #expect(machine.backoff(attempt: 200, jitter: 1) == 350, "no overflow on long outages")
    }

    @Test("linear backoff grows by delayMs per attempt up to maxDelayMs")
    func linearBackoff() {
        let machine = WebhookDeliveryStateMachine(options: Self.options { $0.backoffStrategy = .linear })
        #expect((1...5).map { machine.backoff(attempt: $0, jitter: 1) } == [100, 200, 300, 350, 350])
        #expect(machine.backoff(attempt: 1_000_000, jitter: 1) == 350)
    }

    @Test("maxRetries -1 retries a retriable failure for as long as it takes: never FAILURE, DLQ or drop")
    func retriesForever() {
        var machine = WebhookDeliveryStateMachine(options: Self.options { $0.maxRetries = -1 })
        for _ in 0..<500 {
            guard case .retry = machine.attemptFailed(.status(503), jitter: 0) else {
                Issue.record("a retriable failure was given up")
                return
            }
        }
        #expect(machine.status == .accepted)
        // A 4xx is not retriable: it is not retried even so.
        if case .retry = machine.attemptFailed(.status(422), jitter: 0) { Issue.record("a 4xx was retried") }
        #expect(machine.attemptSucceeded() == .acknowledge)
    }

    @Test("5xx retries maxRetries times, then interrupts: FAILURE, probed every maxDelayMs, back to ACCEPTED on 2xx")
    func serverErrorsInterrupt() {
        var machine = WebhookDeliveryStateMachine(options: Self.options())
        #expect(machine.attemptFailed(.status(503), jitter: 1) == .retry(afterMs: 100))
        #expect(machine.attemptFailed(.exception("connection refused"), jitter: 1) == .retry(afterMs: 200))
        #expect(machine.attemptFailed(.status(500), jitter: 1) == .retry(afterMs: 350))
        guard case .interrupt(let reason, 350) = machine.attemptFailed(.status(502), jitter: 1) else {
            Issue.record("expected an interrupt")
            return
        }
        #expect(reason.contains("502") && reason.contains("4 attempts"))
        #expect(machine.status == .failure)
        #expect(machine.attemptFailed(.status(502), jitter: 0) == .interrupt(reason: reason, probeAfterMs: 350))
        #expect(machine.attemptSucceeded() == .acknowledge)
        #expect(machine.status == .accepted && machine.failureReason == nil && machine.failedAttempts == 0)
        // The next failure starts the retries afresh.
        #expect(machine.attemptFailed(.status(500), jitter: 1) == .retry(afterMs: 100))
    }

    @Test("4xx: no retry; interrupts without a DLQ, goes to the DLQ with one (Gravitee's defaults)")
    func clientErrors() {
        var noDLQ = WebhookDeliveryStateMachine(options: Self.options())
        guard case .interrupt = noDLQ.attemptFailed(.status(404), jitter: 0) else {
            Issue.record("a 4xx without DLQ interrupts")
            return
        }
        var withDLQ = WebhookDeliveryStateMachine(
            options: Self.options {
                $0.hasDeadLetterQueue = true
                $0.interruptOnClientError = false
            })
        #expect(
            withDLQ.attemptFailed(.status(400), jitter: 0)
                == .deadLetter(reason: "the callback answered 400 (after 1 attempt)"))
        #expect(withDLQ.status == .accepted)
        // 429 and 408 are worth retrying.
        #expect(withDLQ.attemptFailed(.status(429), jitter: 1) == .retry(afterMs: 100))
    }

    @Test("not interrupting on 5xx or exceptions: exhausted messages are dropped (no DLQ) and consumption goes on")
    func notInterrupting() {
        var machine = WebhookDeliveryStateMachine(
            options: Self.options {
                $0.maxRetries = 1
                $0.interruptOnServerError = false
                $0.interruptOnException = false
            })
        #expect(machine.attemptFailed(.exception("timed out"), jitter: 1) == .retry(afterMs: 100))
        #expect(
            machine.attemptFailed(.exception("timed out"), jitter: 1) == .drop(reason: "timed out (after 2 attempts)"))
        #expect(machine.status == .accepted && machine.failedAttempts == 0)
    }

    @Test("at-most-once sends once: no retry, never holds a message back")
    func sendsOnce() {
        var machine = WebhookDeliveryStateMachine(options: Self.options { $0.sendsOnce = true })
        #expect(
            machine.attemptFailed(.status(503), jitter: 1)
                == .drop(reason: "the callback answered 503 (after 1 attempt)"))
        #expect(machine.status == .accepted)
    }

    @Test("PAUSED and resume keep a FAILURE's reason")
    func pauseAndResume() {
        var machine = WebhookDeliveryStateMachine(options: Self.options { $0.maxRetries = 0 })
        machine.pauseRequested()
        #expect(machine.status == .paused)
        machine.resumeRequested()
        #expect(machine.status == .accepted)
        _ = machine.attemptFailed(.status(500), jitter: 0)
        #expect(machine.status == .failure)
        machine.pauseRequested()
        machine.resumeRequested()
        #expect(machine.status == .failure)
    }
}

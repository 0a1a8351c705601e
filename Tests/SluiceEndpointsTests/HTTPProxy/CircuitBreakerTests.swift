import SluiceEndpoints
import Testing

/// The failover's circuit breaker as a pure state machine, with the time given by the test.
@Suite("circuit breaker")
struct CircuitBreakerTests {
    @Test("opens after maxFailures failures in a row; a success in between resets the count")
    func opens() {
        var breaker = CircuitBreaker(maxFailures: 3, openStateDurationMs: 1000)
        #expect(breaker.callRequested(now: 0) == .allowed)
        breaker.callFailed(now: 0)
        breaker.callFailed(now: 1)
        breaker.callSucceeded()
        breaker.callFailed(now: 2)
        breaker.callFailed(now: 3)
        #expect(breaker.state == .closed(failures: 2))
        breaker.callFailed(now: 4)
        #expect(breaker.state == .open(until: 1004))
        #expect(breaker.callRequested(now: 1003) == .refused)
    }

    @Test("after openStateDuration one trial passes; its failure reopens, its success closes")
    func halfOpen() {
        var breaker = CircuitBreaker(maxFailures: 1, openStateDurationMs: 500)
        breaker.callFailed(now: 100)
        #expect(breaker.callRequested(now: 599) == .refused)
        #expect(breaker.callRequested(now: 600) == .allowed)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.callRequested(now: 601) == .refused, "a second call during the trial")
        breaker.callFailed(now: 700)
        #expect(breaker.state == .open(until: 1200))
        #expect(breaker.callRequested(now: 1200) == .allowed)
        breaker.callSucceeded()
        #expect(breaker.state == .closed(failures: 0))
        #expect(breaker.callRequested(now: 1201) == .allowed)
    }

    @Test("an abandoned trial is given back: the next request is the trial")
    func abandoned() {
        var breaker = CircuitBreaker(maxFailures: 1, openStateDurationMs: 500)
        breaker.callFailed(now: 0)
        #expect(breaker.callRequested(now: 500) == .allowed)
        breaker.callAbandoned()
        #expect(breaker.callRequested(now: 501) == .allowed)
        #expect(breaker.state == .halfOpen)
    }
}

import NIOCore
import Testing

@testable import SluiceEndpoints

/// The h2c pool's decisions as a pure state machine: which connection a request's stream goes on, when requests
/// wait, when connections open and close, with the time given by the test.
@Suite("h2c pool state")
struct H2CPoolStateTests {
    typealias State = H2CPoolState<String>
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func state(
        _ mode: State.Mode = .priorKnowledge, maxConnections: Int = 1, maxWaiting: Int = 100, keepAlive: Bool = true
    ) -> State {
        State(mode: mode, maxConnections: maxConnections, maxWaiting: maxWaiting, oneStreamPerConnection: !keepAlive)
    }

    /// Requests a stream for `name`, without a body.
    func request(_ state: inout State, _ name: String, bodyless: Bool = true, fresh: Bool = false) -> State.Placement {
        state.streamRequested(bodyless: bodyless, fresh: fresh, now: now, waiter: name)
    }

    @Test("the first request opens a connection and waits for its SETTINGS; the stream limit is the server's")
    func streamLimit() {
        var pool = state()
        guard case .queued(let opening?) = request(&pool, "a") else {
            Issue.record("the first request did not open a connection")
            return
        }
        #expect(opening == .init(connectionID: 0, probe: false))
        // Requests that come while it opens wait for it; no second connection (the limit is 1 anyway).
        for name in ["b", "c", "d"] {
            guard case .queued(nil) = request(&pool, name) else {
                Issue.record("\(name) was not queued")
                return
            }
        }
        let ready = pool.settingsReceived(0, maxConcurrentStreams: 2, now: now)
        #expect(ready.streams.map(\.waiter) == ["a", "b"])
        #expect(ready.streams.map(\.reused) == [false, true])
        #expect(ready.open == nil)
        #expect(pool.waiting.map(\.waiter) == ["c", "d"])
        #expect(pool.connections.first?.openStreams == 2)
        // A stream that ends makes room for the next one, in order.
        let next = pool.streamClosed(0, now: now)
        #expect(next.streams.map(\.waiter) == ["c"])
        #expect(pool.connections.first?.openStreams == 2)
        // The server lowers its limit: nothing more until streams end below it.
        _ = pool.settingsReceived(0, maxConcurrentStreams: 1, now: now)
        let step1 = pool.streamClosed(0, now: now)
        #expect(step1.streams.isEmpty)
        let step2 = pool.streamClosed(0, now: now)
        #expect(step2.streams.map(\.waiter) == ["d"])
    }

    @Test("past a connection's limit another connection is opened, up to maxConnections; then requests wait")
    func moreConnections() {
        var pool = state(maxConnections: 2)
        _ = request(&pool, "a")
        _ = request(&pool, "b")
        let first = pool.settingsReceived(0, maxConcurrentStreams: 1, now: now)
        #expect(first.streams.map(\.waiter) == ["a"])
        #expect(first.open == .init(connectionID: 1, probe: false))
        guard case .queued(nil) = request(&pool, "c") else {
            Issue.record("c was not queued")
            return
        }
        let second = pool.settingsReceived(1, maxConcurrentStreams: 1, now: now)
        #expect(second.streams.map(\.waiter) == ["b"])
        // Two connections, each at its limit: no third.
        #expect(second.open == nil)
        #expect(pool.waiting.map(\.waiter) == ["c"])
        let freed = pool.streamClosed(1, now: now)
        #expect(freed.streams.map { $0.connectionID } == [1])
    }

    @Test("waiting requests are bounded")
    func bounded() {
        var pool = state(maxWaiting: 2)
        _ = request(&pool, "a")
        _ = request(&pool, "b")
        guard case .refused = request(&pool, "c") else {
            Issue.record("c was not refused")
            return
        }
    }

    @Test("GOAWAY: no new stream on that connection, which closes after its last; new requests get a new one")
    func goAway() {
        var pool = state()
        _ = request(&pool, "a")
        _ = pool.settingsReceived(0, maxConcurrentStreams: 10, now: now)
        let away = pool.goAwayReceived(0, now: now)
        #expect(away.close.isEmpty)
        guard case .queued(let opening?) = request(&pool, "b") else {
            Issue.record("b did not open a new connection")
            return
        }
        #expect(opening.connectionID == 1)
        let step3 = pool.streamClosed(0, now: now)
        #expect(step3.close == [0])
        let step4 = pool.settingsReceived(1, maxConcurrentStreams: 10, now: now)
        #expect(step4.streams.map(\.waiter) == ["b"])
    }

    @Test("a connection that cannot be made fails the requests waiting for it; a closed one is replaced")
    func failures() {
        var pool = state()
        _ = request(&pool, "a")
        _ = request(&pool, "b")
        let failed = pool.connectionClosed(0, failedToOpen: true, now: now)
        #expect(failed.failed == ["a", "b"])
        #expect(pool.connections.isEmpty)

        _ = request(&pool, "c")
        _ = pool.settingsReceived(1, maxConcurrentStreams: 1, now: now)
        _ = request(&pool, "d")
        // The ready connection goes (the backend closed it): "d" gets a new one.
        let replaced = pool.connectionClosed(1, failedToOpen: false, now: now)
        #expect(replaced.failed.isEmpty)
        #expect(replaced.open?.connectionID == 2)
    }

    @Test("a request sent again (fresh) only goes on a connection made after it failed")
    func fresh() {
        var pool = state(maxConnections: 2)
        _ = request(&pool, "a")
        _ = pool.settingsReceived(0, maxConcurrentStreams: 10, now: now)
        guard case .queued(let opening?) = request(&pool, "retry", fresh: true) else {
            Issue.record("the fresh request did not open a connection")
            return
        }
        #expect(opening.connectionID == 1)
        guard case .stream(0, true) = request(&pool, "other") else {
            Issue.record("a request that is not fresh did not use the ready connection")
            return
        }
        let step5 = pool.settingsReceived(1, maxConcurrentStreams: 10, now: now)
        #expect(step5.streams.map(\.waiter) == ["retry"])
    }

    @Test("without keep-alive a connection carries one stream and closes after it")
    func noKeepAlive() {
        var pool = state(maxConnections: 4, keepAlive: false)
        _ = request(&pool, "a")
        _ = request(&pool, "b")
        let ready = pool.settingsReceived(0, maxConcurrentStreams: 100, now: now)
        #expect(ready.streams.map(\.waiter) == ["a"])
        #expect(ready.open?.connectionID == 1)
        let step6 = pool.streamClosed(0, now: now)
        #expect(step6.close == [0])
    }

    @Test("idle connections close; one carrying a stream does not")
    func idle() {
        var pool = state()
        _ = request(&pool, "a")
        _ = pool.settingsReceived(0, maxConcurrentStreams: 10, now: now)
        let busy = pool.idleTimeoutFired(0)
        #expect(!busy)
        _ = pool.streamClosed(0, now: now)
        let idle = pool.idleTimeoutFired(0)
        #expect(idle)
        #expect(pool.connections.isEmpty)
    }

    @Test(
        "upgrade: a request without a body carries the upgrade on a new connection; one with a body waits for a probe")
    func upgradeCarriers() {
        var pool = state(.upgrade, maxConnections: 2)
        guard case .carrier(0) = request(&pool, "get") else {
            Issue.record("the first bodyless request did not carry the upgrade")
            return
        }
        // While the upgrade is under way, others wait for it.
        guard case .queued(nil) = request(&pool, "post", bodyless: false) else {
            Issue.record("the request with a body did not wait")
            return
        }
        pool.upgraded(0)
        #expect(pool.connections.first?.openStreams == 1)
        let ready = pool.settingsReceived(0, maxConcurrentStreams: 2, now: now)
        #expect(ready.streams.map(\.waiter) == ["post"])
        #expect(ready.streams.map(\.reused) == [true])

        var bodies = state(.upgrade)
        guard case .queued(let probe?) = request(&bodies, "post", bodyless: false) else {
            Issue.record("a request with a body did not open a probed connection")
            return
        }
        #expect(probe == .init(connectionID: 0, probe: true))
    }

    @Test("upgrade refused: HTTP/1.1 for the backend, for a while; an unanswered upgrade sends waiters to HTTP/1.1")
    func upgradeRefused() {
        var pool = state(.upgrade)
        _ = request(&pool, "get")
        _ = request(&pool, "post", bodyless: false)
        let refused = pool.upgradeRefused(0, now: now)
        #expect(refused.http1 == ["post"])
        guard case .http1 = request(&pool, "later") else {
            Issue.record("a request after the refusal did not go over HTTP/1.1")
            return
        }
        guard
            case .carrier = pool.streamRequested(
                bodyless: true, fresh: false, now: now + .minutes(6), waiter: "much later")
        else {
            Issue.record("the upgrade was not tried again after the HTTP/1.1 period")
            return
        }

        var slow = state(.upgrade)
        _ = request(&slow, "get")
        _ = request(&slow, "post", bodyless: false)
        let undecided = slow.upgradeUndecided(0, now: now)
        #expect(undecided.http1 == ["post"])
        guard case .http1 = request(&slow, "next") else {
            Issue.record("a request while the upgrade is undecided did not go over HTTP/1.1")
            return
        }
    }

    @Test("shutdown fails waiting requests and closes connections without streams; the others drain")
    func shutdown() {
        var pool = state(maxConnections: 2)
        _ = request(&pool, "a")
        _ = pool.settingsReceived(0, maxConcurrentStreams: 1, now: now)
        _ = request(&pool, "b")
        let result = pool.shutDown()
        #expect(result.failed == ["b"])
        #expect(result.close == [1])
        let step7 = pool.streamClosed(0, now: now)
        #expect(step7.close == [0])
    }
}

import DequeModule
import NIOCore

/// The h2c connections of one endpoint on one event loop, and the requests waiting for a stream: a pure value whose
/// methods are named after events and return what to do, carried out by ``H2CConnectionPool``.
///
/// A request gets a stream on a ready connection with one to spare: fewer open streams than the server's
/// `SETTINGS_MAX_CONCURRENT_STREAMS` (one stream in a connection's life without keep-alive). Else it waits, at most
/// `maxWaiting` of them, and a connection is opened when none is being opened for it and fewer than
/// `maxConnections` are up; a connection that became ready serves the waiting requests its limit allows, and another
/// one is opened for the rest. A connection that received GOAWAY takes no new stream and closes after its last.
///
/// Upgrade mode (`Upgrade: h2c`): a request without a body that finds no connection to use opens one itself and
/// carries the upgrade (its answer comes on stream 1, or over HTTP/1.1 when the backend does not upgrade); one with
/// a body waits, and the connection opened for it carries the upgrade on an `OPTIONS *` probe. A backend that
/// refused to upgrade is spoken to in HTTP/1.1 for `http1Period`; while an upgrade has gone unanswered for the
/// connect timeout, the requests that would wait for it go over HTTP/1.1 too.
struct H2CPoolState<Waiter> {
    typealias Mode = H2CConnectionPool.Mode

    enum Phase: Equatable {
        /// Connecting, or waiting for the server's first SETTINGS.
        case connecting
        /// Upgrade mode: the HTTP/1.1 request carrying the upgrade is sent, its answer not there yet. `undecided`
        /// once it has taken longer than the connect timeout.
        case upgrading(undecided: Bool)
        case ready
        /// GOAWAY received (or its one stream taken, without keep-alive): no new stream.
        case draining

        var isOpening: Bool { self == .connecting || self == .upgrading(undecided: false) }
    }

    struct Connection {
        let id: Int
        var phase: Phase
        /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
        var maxStreams = 0
        var openStreams = 0
        var streamsStarted = 0
    }

    /// A request waiting for a stream; `minimumConnectionID` keeps a request sent again (`fresh`) off the
    /// connections that were there when it failed.
    struct Waiting {
        var waiter: Waiter
        var minimumConnectionID: Int
    }

    /// Where a request goes.
    enum Placement {
        /// A new stream on this connection.
        case stream(connectionID: Int, reused: Bool)
        /// To the HTTP/1.1 connections.
        case http1
        /// Open this new connection; the request is sent on it in HTTP/1.1 and carries the upgrade.
        case carrier(connectionID: Int)
        /// It waits (kept here); open this connection if given.
        case queued(open: Opening?)
        /// Too many waiting already.
        case refused
    }

    /// A connection to open; in upgrade mode with an `OPTIONS *` probe carrying the upgrade.
    struct Opening: Equatable {
        let connectionID: Int
        let probe: Bool
    }

    /// What to do after an event: streams to open for waiting requests, requests to pass to HTTP/1.1 or to fail,
    /// a connection to open, connections to close.
    struct Dispatch {
        var streams: [(waiter: Waiter, connectionID: Int, reused: Bool)] = []
        var http1: [Waiter] = []
        var failed: [Waiter] = []
        var open: Opening?
        var close: [Int] = []
    }

    /// Assumed until the server's SETTINGS say otherwise (RFC 9113 recommends no fewer than 100).
    static var defaultMaxStreams: Int { 100 }
    /// Used past what a server allows: its "unlimited" is not taken at its word.
    static var maxStreamsCap: Int { 1_000 }

    let mode: Mode
    let maxConnections: Int
    let maxWaiting: Int
    /// Without keep-alive, one stream per connection.
    let oneStreamPerConnection: Bool
    /// How long a backend that refused to upgrade is spoken to in HTTP/1.1.
    let http1Period: TimeAmount
    private(set) var connections: [Connection] = []
    private(set) var waiting = Deque<Waiting>()
    private(set) var http1Until: NIODeadline?
    private var nextConnectionID = 0

    init(
        mode: Mode, maxConnections: Int, maxWaiting: Int, oneStreamPerConnection: Bool,
        http1Period: TimeAmount = .minutes(5)
    ) {
        self.mode = mode
        self.maxConnections = max(1, maxConnections)
        self.maxWaiting = maxWaiting
        self.oneStreamPerConnection = oneStreamPerConnection
        self.http1Period = http1Period
    }

    // MARK: Events

    /// A request wants a stream. `waiter` is kept only when the answer is `.queued`.
    mutating func streamRequested(
        bodyless: Bool, fresh: Bool, now: NIODeadline, waiter: @autoclosure () -> Waiter
    ) -> Placement {
        if speaksHTTP1(now: now) { return .http1 }
        let minimum = fresh ? nextConnectionID : 0
        if let index = usableIndex(minimum: minimum) { return take(index) }
        if mode == .upgrade, connections.contains(where: { $0.phase == .upgrading(undecided: true) }),
            !connections.contains(where: { $0.phase == .ready || $0.phase.isOpening })
        {
            return .http1
        }
        guard waiting.count < maxWaiting else { return .refused }
        if mode == .upgrade, bodyless, !connections.contains(where: \.phase.isOpening), activeCount < maxConnections {
            return .carrier(connectionID: newConnection(.upgrading(undecided: false)))
        }
        waiting.append(Waiting(waiter: waiter(), minimumConnectionID: minimum))
        return .queued(open: openIfNeeded())
    }

    /// The HTTP/1.1 request carrying the upgrade got `101 Switching Protocols`: stream 1 is its answer.
    mutating func upgraded(_ id: Int) {
        guard let index = index(of: id) else { return }
        if connections[index].phase != .draining { connections[index].phase = .connecting }
        connections[index].openStreams = 1
        connections[index].streamsStarted = 1
    }

    /// The server's SETTINGS (its first make the connection ready).
    mutating func settingsReceived(_ id: Int, maxConcurrentStreams: Int?, now: NIODeadline) -> Dispatch {
        guard let index = index(of: id) else { return Dispatch() }
        if let maxConcurrentStreams {
            connections[index].maxStreams = min(maxConcurrentStreams, Self.maxStreamsCap)
        } else if connections[index].maxStreams == 0 {
            connections[index].maxStreams = Self.defaultMaxStreams
        }
        if connections[index].phase.isOpening || connections[index].phase == .upgrading(undecided: true) {
            connections[index].phase = .ready
        }
        return dispatch(now: now)
    }

    /// The backend answered the upgrade request in HTTP/1.1: that connection stays HTTP/1.1 (it leaves this
    /// state), and so does the backend for `http1Period`.
    mutating func upgradeRefused(_ id: Int, now: NIODeadline) -> Dispatch {
        connections.removeAll { $0.id == id }
        http1Until = now + http1Period
        return dispatch(now: now)
    }

    /// The upgrade request has had no answer for the connect timeout: who waits for it goes over HTTP/1.1.
    mutating func upgradeUndecided(_ id: Int, now: NIODeadline) -> Dispatch {
        guard let index = index(of: id), connections[index].phase == .upgrading(undecided: false) else {
            return Dispatch()
        }
        connections[index].phase = .upgrading(undecided: true)
        var result = dispatch(now: now)
        if !connections.contains(where: { $0.phase == .ready || $0.phase.isOpening }) {
            result.http1.append(contentsOf: waiting.map(\.waiter))
            waiting.removeAll()
            result.open = nil
        }
        return result
    }

    mutating func streamClosed(_ id: Int, now: NIODeadline) -> Dispatch {
        guard let index = index(of: id) else { return Dispatch() }
        connections[index].openStreams -= 1
        var result = Dispatch()
        if connections[index].openStreams == 0,
            connections[index].phase == .draining
                || (oneStreamPerConnection && connections[index].phase == .ready)
        {
            connections.remove(at: index)
            result.close.append(id)
        }
        merge(dispatch(now: now), into: &result)
        return result
    }

    mutating func goAwayReceived(_ id: Int, now: NIODeadline) -> Dispatch {
        guard let index = index(of: id) else { return Dispatch() }
        var result = Dispatch()
        if connections[index].openStreams == 0 {
            connections.remove(at: index)
            result.close.append(id)
        } else {
            connections[index].phase = .draining
        }
        merge(dispatch(now: now), into: &result)
        return result
    }

    /// The connection closed, or could not be made (`failedToOpen`: connecting or its handshake failed). When
    /// no other connection can serve the waiting requests then, they fail with its error.
    mutating func connectionClosed(_ id: Int, failedToOpen: Bool, now: NIODeadline) -> Dispatch {
        guard let index = index(of: id) else { return Dispatch() }
        connections.remove(at: index)
        if failedToOpen, !connections.contains(where: { $0.phase == .ready || $0.phase.isOpening }) {
            var result = Dispatch()
            result.failed = waiting.map(\.waiter)
            waiting.removeAll()
            return result
        }
        return dispatch(now: now)
    }

    /// The connection has read nothing for the idle timeout: true when it is to close (it carries no stream).
    mutating func idleTimeoutFired(_ id: Int) -> Bool {
        guard let index = index(of: id), connections[index].openStreams == 0,
            connections[index].phase == .ready || connections[index].phase == .draining
        else { return false }
        connections.remove(at: index)
        return true
    }

    /// Whether the connection is still being opened (its handshake has not ended).
    func isOpening(_ id: Int) -> Bool {
        phase(of: id)?.isOpening ?? false
    }

    func phase(of id: Int) -> Phase? {
        index(of: id).map { connections[$0].phase }
    }

    /// The pool is shutting down: the waiting requests fail, connections without a stream close, the others
    /// close after their last stream.
    mutating func shutDown() -> Dispatch {
        var result = Dispatch()
        result.failed = waiting.map(\.waiter)
        waiting.removeAll()
        for connection in connections
        where connection.openStreams == 0 && connection.phase != .upgrading(undecided: false)
            && connection.phase != .upgrading(undecided: true)
        {
            result.close.append(connection.id)
        }
        connections.removeAll { result.close.contains($0.id) }
        for index in connections.indices { connections[index].phase = .draining }
        return result
    }

    // MARK: Helpers

    private var activeCount: Int { connections.count { $0.phase != .draining } }

    private func index(of id: Int) -> Int? {
        connections.firstIndex { $0.id == id }
    }

    private mutating func speaksHTTP1(now: NIODeadline) -> Bool {
        guard let until = http1Until else { return false }
        if now < until { return true }
        http1Until = nil
        return false
    }

    /// A ready connection with a stream to spare, made at or after `minimum`.
    private func usableIndex(minimum: Int) -> Int? {
        connections.firstIndex { connection in
            connection.phase == .ready && connection.id >= minimum
                && connection.openStreams < connection.maxStreams
                && !(oneStreamPerConnection && connection.streamsStarted > 0)
        }
    }

    private mutating func take(_ index: Int) -> Placement {
        let reused = connections[index].streamsStarted > 0
        connections[index].openStreams += 1
        connections[index].streamsStarted += 1
        return .stream(connectionID: connections[index].id, reused: reused)
    }

    private mutating func newConnection(_ phase: Phase) -> Int {
        let id = nextConnectionID
        nextConnectionID += 1
        connections.append(Connection(id: id, phase: phase))
        return id
    }

    /// A connection to open for the waiting requests, when none being opened can serve them all and the limit
    /// allows. (Their minimum connection ids only grow, so the last one's tells.)
    private mutating func openIfNeeded() -> Opening? {
        guard let last = waiting.last, activeCount < maxConnections,
            !connections.contains(where: { $0.phase.isOpening && $0.id >= last.minimumConnectionID })
        else { return nil }
        return Opening(
            connectionID: newConnection(mode == .upgrade ? .upgrading(undecided: false) : .connecting),
            probe: mode == .upgrade)
    }

    private mutating func dispatch(now: NIODeadline) -> Dispatch {
        var result = Dispatch()
        if speaksHTTP1(now: now) {
            result.http1 = waiting.map(\.waiter)
            waiting.removeAll()
            return result
        }
        while let first = waiting.first, let index = usableIndex(minimum: first.minimumConnectionID) {
            waiting.removeFirst()
            guard case .stream(let id, let reused) = take(index) else { continue }
            result.streams.append((first.waiter, id, reused))
        }
        result.open = openIfNeeded()
        return result
    }

    private func merge(_ other: Dispatch, into result: inout Dispatch) {
        result.streams += other.streams
        result.http1 += other.http1
        result.failed += other.failed
        result.close += other.close
        result.open = result.open ?? other.open
    }
}

public import AsyncHTTPClient
import NIOCore
public import SluiceCore
import Synchronization

/// The endpoints of an `http-proxy` API behind one connector: each request goes to the endpoint the group's load
/// balancer picks, with the API's failover (retries on the next endpoint, a circuit breaker) when it is enabled.
public final class HTTPProxyGroup: EndpointConnector {
    public struct Member: Sendable {
        public var endpoint: HTTPProxyEndpoint
        public var weight: Int
        public var secondary: Bool

        public init(endpoint: HTTPProxyEndpoint, weight: Int, secondary: Bool) {
            self.endpoint = endpoint
            self.weight = weight
            self.secondary = secondary
        }
    }

    public let primaries: [Member]
    public let secondaries: [Member]
    public let loadBalancer: APIDefinition.LoadBalancer
    public let failover: HTTPProxyFailover
    private let counter = Atomic<Int>(0)
    private let secondaryCounter = Atomic<Int>(0)
    private let breakers = Mutex<[String: CircuitBreaker]>([:])
    /// Most circuit breakers kept at once (per-subscription breakers of clients long gone are dropped past it).
    static let maxBreakers = 10_000
    private let clock = ContinuousClock()
    private let start = ContinuousClock.now

    /// Whether requests can be forwarded right from the gateway's event loops: no failover (which resends), and
    /// every primary endpoint has connections of its own (``HTTPProxyEndpoint/connections``).
    public let servesFromEventLoop: Bool

    public init(members: [Member], loadBalancer: APIDefinition.LoadBalancer, failover: HTTPProxyFailover) {
        precondition(!members.isEmpty)
        let primaries = members.filter { !$0.secondary }
        self.primaries = primaries.isEmpty ? members : primaries
        self.secondaries = primaries.isEmpty ? [] : members.filter(\.secondary)
        self.loadBalancer = loadBalancer
        self.failover = failover
        self.servesFromEventLoop = !failover.enabled && self.primaries.allSatisfy { $0.endpoint.connections != nil }
    }

    /// The endpoint the load balancer picks for the next request (without failover).
    public func next() -> HTTPProxyEndpoint {
        pick(primaries, counter: counter)
    }

    /// Whether every circuit breaker of the group is open now (with failover on): the backends are taken as away.
    public var allCircuitsOpen: Bool {
        let now = milliseconds()
        return breakers.withLock { breakers in
            !breakers.isEmpty
                && breakers.values.allSatisfy {
                    switch $0.state {
                    case .open(let until): until > now
                    case .halfOpen, .closed: false
                    }
                }
        }
    }

    public var type: String { "http-proxy" }
    public var canPublish: Bool { false }
    public var canSubscribe: Bool { false }

    public func publish(_ message: Message) async throws -> Message {
        throw GatewayError(status: 500, key: "UNSUPPORTED_OPERATION", message: "http-proxy endpoints carry requests")
    }

    public func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource {
        throw GatewayError(status: 500, key: "UNSUPPORTED_OPERATION", message: "http-proxy endpoints carry requests")
    }

    public func stop() async {
        for member in primaries + secondaries { await member.endpoint.shutdown() }
    }

    /// The next endpoint for a request, as the load balancer picks it among `members`.
    func pick(_ members: [Member], counter: borrowing Atomic<Int>) -> HTTPProxyEndpoint {
        if members.count == 1 { return members[0].endpoint }
        switch loadBalancer {
        case .roundRobin:
            return members[counter.add(1, ordering: .relaxed).oldValue % members.count].endpoint
        case .random:
            return members.randomElement()!.endpoint
        case .weightedRoundRobin:
            let total = members.reduce(0) { $0 + $1.weight }
            return Self.member(at: counter.add(1, ordering: .relaxed).oldValue % total, of: members)
        case .weightedRandom:
            let total = members.reduce(0) { $0 + $1.weight }
            return Self.member(at: Int.random(in: 0..<total), of: members)
        }
    }

    /// The member whose share of the weights holds `slot`.
    static func member(at slot: Int, of members: [Member]) -> HTTPProxyEndpoint {
        var slot = slot
        for member in members {
            if slot < member.weight { return member.endpoint }
            slot -= member.weight
        }
        return members[0].endpoint
    }

    /// Sends `request` to an endpoint and returns the response once its head has arrived. `breakerKey` names the
    /// circuit breaker it counts on (its subscription, when failover is per subscription). With `trace`, each
    /// attempt has a client span, whose trace context the attempt carries.
    public func send(
        _ request: HTTPProxyRequest, breakerKey: @autoclosure () -> String, trace: (any HTTPProxyTrace)? = nil
    ) async throws
        -> HTTPClientResponse
    {
        guard failover.enabled else {
            let endpoint = pick(primaries, counter: counter)
            guard let trace else { return try await endpoint.send(request) }
            return try await Self.traced(request, on: endpoint, resendCount: 0, trace: trace) {
                try await endpoint.send($0)
            }
        }
        let key = failover.perSubscription ? breakerKey() : ""
        let now = milliseconds()
        let permitted = breakers.withLock { breakers -> Bool in
            if breakers[key] == nil, breakers.count >= Self.maxBreakers {
                breakers = breakers.filter { $0.value.state != .closed(failures: 0) }
                if breakers.count >= Self.maxBreakers { breakers.removeAll() }
            }
            var breaker =
                breakers[key]
                ?? CircuitBreaker(maxFailures: failover.maxFailures, openStateDurationMs: failover.openStateDurationMs)
            defer { breakers[key] = breaker }
            return breaker.callRequested(now: now) == .allowed
        }
        guard permitted else { throw GatewayError.circuitOpen() }
        do {
            let response = try await sendWithRetries(request, trace: trace)
            breakers.withLock { $0[key]?.callSucceeded() }
            return response
        } catch let error where HTTPProxyEndpoint.isBackendFailure(error) {
            let failedAt = milliseconds()
            breakers.withLock { $0[key]?.callFailed(now: failedAt) }
            throw error
        } catch {
            // The client left: the breaker's trial (if this was one) is given back.
            breakers.withLock { $0[key]?.callAbandoned() }
            throw error
        }
    }

    /// Gravitee's failover: each attempt has `slowCallDuration` to get the response head; a failed or slow attempt
    /// is tried again, up to `maxRetries` times, on the endpoint the load balancer picks next (secondary endpoints
    /// once every primary has failed this request).
    private func sendWithRetries(
        _ request: HTTPProxyRequest, trace: (any HTTPProxyTrace)?
    ) async throws -> HTTPClientResponse {
        var lastError: any Error = GatewayError.backendConnection("No endpoint was tried.")
        for attempt in 0...failover.maxRetries {
            try Task.checkCancellation()
            let endpoint =
                attempt >= primaries.count && !secondaries.isEmpty
                ? pick(secondaries, counter: secondaryCounter) : pick(primaries, counter: counter)
            do {
                guard let trace else {
                    return try await withSlowCallLimit(endpoint: endpoint.name) { try await endpoint.send(request) }
                }
                return try await Self.traced(request, on: endpoint, resendCount: attempt, trace: trace) { traced in
                    try await withSlowCallLimit(endpoint: endpoint.name) { try await endpoint.send(traced) }
                }
            } catch let error where HTTPProxyEndpoint.isBackendFailure(error) {
                lastError = error
            }
        }
        let detail = (lastError as? GatewayError)?.message ?? String(describing: lastError)
        throw GatewayError.backendConnection(
            "The request failed on \(failover.maxRetries + 1) attempts (failover); last: \(detail)")
    }

    /// One attempt, in its client span: `send` gets `request` with the span's trace context; the span ends here
    /// when the attempt fails, else once its answer has been relayed.
    private static func traced(
        _ request: HTTPProxyRequest, on endpoint: HTTPProxyEndpoint, resendCount: Int, trace: any HTTPProxyTrace,
        _ send: (HTTPProxyRequest) async throws -> HTTPClientResponse
    ) async throws -> HTTPClientResponse {
        var traced = request
        if let context = trace.attemptStarted(
            request.method, endpoint: endpoint, relativePath: request.relativePath, resendCount: resendCount)
        {
            traced.headers.setTraceContext(parent: context.parent, state: context.state)
        }
        do {
            let response = try await send(traced)
            trace.attemptAnswered(status: Int(response.status.code))
            return response
        } catch {
            trace.attemptFailed(error)
            throw error
        }
    }

    /// Runs `operation`, failing it with a timeout when it takes longer than `slowCallDuration`.
    private func withSlowCallLimit(
        endpoint: String, _ operation: @escaping @Sendable () async throws -> HTTPClientResponse
    ) async throws -> HTTPClientResponse {
        let limit = Duration.milliseconds(failover.slowCallDurationMs)
        return try await withThrowingTaskGroup(of: HTTPClientResponse?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw GatewayError.backendTimeout(
                    "Endpoint '\(endpoint)' did not answer within slowCallDuration (\(failover.slowCallDurationMs) ms)")
            }
            return response
        }
    }

    private func milliseconds() -> Int64 {
        let elapsed = start.duration(to: clock.now)
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}

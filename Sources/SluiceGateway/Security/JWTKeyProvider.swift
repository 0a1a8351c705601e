import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SluiceCore
import Synchronization

/// The keys of one JWT plan: its given key, or its JWK set fetched over HTTP(S). Built asynchronously (jwt-kit
/// builds keys in an actor; a JWK set needs a fetch), then read synchronously by the request paths.
///
/// A JWK set is fetched again when it is older than the refresh interval (in the background, the old keys serving
/// meanwhile) and when a token names a key id it does not hold, at most once per minimum interval: made-up key ids
/// cost the key server one fetch per interval at most. Concurrent loads share one fetch.
final class JWTKeyProvider: Sendable {
    enum Source: Sendable {
        case given(String)
        case jwks(url: String, timeout: TimeAmount)
    }

    private struct State {
        var keys: JWTKeySet?
        var loadedAt: Date?
        /// When the last fetch started, successful or not: what the minimum interval counts from.
        var lastAttempt: Date?
        var lastFailure: String?
        var loading: Task<Void, Never>?
    }

    let source: Source
    let signature: JWTPlanConfiguration.Signature
    let refreshInterval: TimeInterval
    let minimumRefreshInterval: TimeInterval
    let logger: Logger
    private let state = Mutex(State())

    init(
        source: Source, signature: JWTPlanConfiguration.Signature, refreshInterval: TimeInterval,
        minimumRefreshInterval: TimeInterval, logger: Logger
    ) {
        self.source = source
        self.signature = signature
        self.refreshInterval = refreshInterval
        self.minimumRefreshInterval = minimumRefreshInterval
        self.logger = logger
    }

    /// The keys now, if loaded. A JWK set older than the refresh interval starts a background refresh.
    func current(now: Date) -> JWTKeySet? {
        let (keys, stale) = state.withLock { state -> (JWTKeySet?, Bool) in
            guard case .jwks = source, let loadedAt = state.loadedAt, state.loading == nil else {
                return (state.keys, false)
            }
            return (state.keys, now.timeIntervalSince(loadedAt) > refreshInterval && mayFetch(state, now: now))
        }
        if stale {
            // Unstructured: the request that noticed the age must not wait for the fetch.
            Task { await self.load(now: now) }
        }
        return keys
    }

    /// Why the last load failed, when there are no keys.
    var failure: String? { state.withLock { $0.keys == nil ? $0.lastFailure : nil } }

    /// Whether a fetch may start now (the minimum interval since the last one has passed).
    func mayRefresh(now: Date) -> Bool {
        state.withLock { mayFetch($0, now: now) }
    }

    private func mayFetch(_ state: State, now: Date) -> Bool {
        guard let last = state.lastAttempt else { return true }
        return now.timeIntervalSince(last) >= minimumRefreshInterval
    }

    /// Loads (or reloads) the keys, unless a load is under way (then waits for it) or the minimum interval has not
    /// passed since the last fetch (then returns at once).
    func load(now: Date) async {
        let task = state.withLock { state -> Task<Void, Never>? in
            if let loading = state.loading { return loading }
            guard state.keys == nil && state.lastAttempt == nil || mayFetch(state, now: now) else { return nil }
            state.lastAttempt = now
            // Unstructured: one fetch shared by every request waiting for it.
            let task = Task { await self.fetch() }
            state.loading = task
            return task
        }
        await task?.value
    }

    private func fetch() async {
        let result: Result<JWTKeySet, any Error>
        do {
            switch source {
            case .given(let text):
                result = .success(try await JWTKeySet.given(text, signature: signature))
            case .jwks(let url, let timeout):
                let data = try await Self.get(url, timeout: timeout)
                let (keys, skipped) = try await JWTKeySet.jwks(data, signature: signature)
                if !skipped.isEmpty {
                    logger.debug("JWK set keys left out", metadata: ["url": "\(url)", "keys": "\(skipped)"])
                }
                result = .success(keys)
            }
        } catch {
            result = .failure(error)
        }
        state.withLock { state in
            state.loading = nil
            switch result {
            case .success(let keys):
                state.keys = keys
                state.loadedAt = Date()
                state.lastFailure = nil
            case .failure(let error):
                // A JWK set that was read once stays in force; a given key that cannot be read never will be.
                state.lastFailure = "\(error)"
            }
        }
        if case .failure(let error) = result {
            logger.warning("JWT plan keys could not be loaded", metadata: ["error": "\(error)"])
        }
    }

    /// Largest JWK set read. Default: 1 MiB.
    static let maximumJWKSBytes = 1 << 20

    static func get(_ url: String, timeout: TimeAmount) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await SecurityHTTPClient.shared.execute(request, timeout: timeout)
        guard response.status == .ok else {
            throw JWTKeyError("the JWK set server answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: maximumJWKSBytes)
        return Data(body.readableBytesView)
    }
}

/// The HTTP client of JWK set fetches and token introspection: one for the process, no redirects followed
/// (Gravitee's default), deadlines per request.
enum SecurityHTTPClient {
    static let shared = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(30))))
}

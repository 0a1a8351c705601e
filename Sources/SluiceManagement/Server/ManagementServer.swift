import Foundation
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import SluiceCore
public import SluiceGateway
public import SluiceStore

/// The management REST API as a `Service`: a Hummingbird application on its own port over a management store.
/// Before it listens it makes sure an admin can use it (``AdminBootstrap``).
public final class ManagementServer: Service, Sendable {
    public let store: any ManagementStore
    public let configuration: ManagementConfiguration
    let logger: Logger
    let routes: ManagementRoutes
    private let boundPort = PortPromise()

    /// - Parameter gateway: the gateway running in the same process (`serve --role all`), whose live numbers the
    ///   status (`GET /management/v2/status`, the page at `/status`) shows. Default: none.
    public init(
        store: any ManagementStore, configuration: ManagementConfiguration, logger: Logger, gateway: Gateway? = nil
    ) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.routes = ManagementRoutes(
            store: store, loader: DefinitionLoader(catalog: configuration.catalog),
            callbackPolicy: configuration.callbackPolicy, maxBodyBytes: configuration.maxRequestBodyBytes,
            users: UserTokenCache(store: store, lifetime: configuration.tokenCacheLifetime), logger: logger,
            gateway: gateway)
    }

    /// The router with every route (what the OpenAPI document describes).
    public func router() -> Router<ManagementRequestContext> {
        let router = Router(context: ManagementRequestContext.self)
        router.add(middleware: ProblemMiddleware(logger: logger))
        router.add(middleware: AccessMiddleware(users: routes.users))
        routes.register(on: router)
        return router
    }

    /// The port it listens on, once it does; throws when the server stopped, or failed to start, first.
    public func port() async throws -> Int { try await boundPort.value() }

    public func run() async throws {
        do {
            try await serve()
            await boundPort.fail(ManagementServerStopped())
        } catch {
            await boundPort.fail(error)
            throw error
        }
    }

    private func serve() async throws {
        try await bootstrap()
        let application = Application(
            router: router(),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "sluice-management"),
            onServerRunning: { [boundPort, logger] channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("management API listening", metadata: ["port": "\(port)"])
                await boundPort.fulfil(port)
            },
            logger: logger)
        try await application.run()
    }

    /// Brings the store's schema up to date and creates the first admin, waiting for the store while it cannot be
    /// reached.
    func bootstrap() async throws {
        let bootstrap = AdminBootstrap(token: configuration.adminToken)
        while true {
            do {
                try await store.migrate()
                try await bootstrap.run(on: store, logger: logger)
                return
            } catch let error as StoreError where error.isRetriable {
                logger.warning("management store unavailable; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// The server stopped before it listened.
public struct ManagementServerStopped: Error, CustomStringConvertible {
    public var description: String { "the management server stopped before it listened" }
}

/// A port known once a server listens, or the error that kept it from listening.
actor PortPromise {
    private var result: Result<Int, any Error>?
    private var waiters: [CheckedContinuation<Int, any Error>] = []

    func fulfil(_ port: Int) { settle(.success(port)) }

    /// Has no effect once the port is known.
    func fail(_ error: any Error) { settle(.failure(error)) }

    private func settle(_ result: Result<Int, any Error>) {
        guard self.result == nil else { return }
        self.result = result
        for waiter in waiters { waiter.resume(with: result) }
        waiters.removeAll()
    }

    func value() async throws -> Int {
        if let result { return try result.get() }
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }
}

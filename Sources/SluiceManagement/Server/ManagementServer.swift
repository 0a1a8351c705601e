import Foundation
public import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import SluiceCore
public import SluiceStore

/// The management REST API as a `Service`: a Hummingbird application on its own port over a management store.
/// Before it listens it makes sure an admin can use it (``AdminBootstrap``).
public final class ManagementServer: Service, Sendable {
    public let store: any ManagementStore
    public let configuration: ManagementConfiguration
    let logger: Logger
    let routes: ManagementRoutes
    private let boundPort = PortPromise()

    public init(store: any ManagementStore, configuration: ManagementConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.routes = ManagementRoutes(
            store: store, loader: DefinitionLoader(catalog: configuration.catalog),
            callbackPolicy: configuration.callbackPolicy, maxBodyBytes: configuration.maxRequestBodyBytes,
            users: UserTokenCache(store: store, lifetime: configuration.tokenCacheLifetime), logger: logger)
    }

    /// The router with every route (what the OpenAPI document describes).
    public func router() -> Router<ManagementRequestContext> {
        let router = Router(context: ManagementRequestContext.self)
        router.add(middleware: ProblemMiddleware(logger: logger))
        router.add(middleware: AccessMiddleware(users: routes.users))
        routes.register(on: router)
        return router
    }

    /// The port it listens on, once it does.
    public func port() async -> Int { await boundPort.value() }

    public func run() async throws {
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

    /// Creates the first admin, waiting for the store while it cannot be reached.
    func bootstrap() async throws {
        let bootstrap = AdminBootstrap(token: configuration.adminToken)
        while true {
            do {
                try await bootstrap.run(on: store, logger: logger)
                return
            } catch let error as StoreError where error.isRetriable {
                logger.warning("management store unavailable; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// A port known once a server listens.
actor PortPromise {
    private var port: Int?
    private var waiters: [CheckedContinuation<Int, Never>] = []

    func fulfil(_ port: Int) {
        self.port = port
        for waiter in waiters { waiter.resume(returning: port) }
        waiters.removeAll()
    }

    func value() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

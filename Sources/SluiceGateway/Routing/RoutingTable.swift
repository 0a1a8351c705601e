import SluiceCore

/// Finds the deployment for a request: listener paths bound to the request's host first, then host-less ones;
/// among those the longest context path that is the request path or a `/`-separated prefix of it.
struct RoutingTable: Sendable {
    struct Route: Sendable {
        var host: String?
        var path: String
        var deployment: Deployment
    }

    /// Sorted: host-bound before host-less, then longer paths first.
    private(set) var routes: [Route] = []
    /// Whether any route is bound to a host; when none is, the request's host is not even looked at.
    private(set) var hasHostRoutes = false

    init(deployments: [Deployment]) {
        for deployment in deployments {
            for path in deployment.definition.httpPaths {
                routes.append(Route(host: path.host, path: path.path, deployment: deployment))
            }
        }
        hasHostRoutes = routes.contains { $0.host != nil }
        routes.sort { a, b in
            if (a.host != nil) != (b.host != nil) { return a.host != nil }
            return a.path.utf8.count > b.path.utf8.count
        }
    }

    func route(host: String?, path: String) -> Deployment? {
        match(host: host, path: path)?.deployment
    }

    /// The route a request takes: its deployment, and the context path it matched.
    func match(host: String?, path: String) -> Route? {
        let requestHost = hasHostRoutes ? host.map(Self.stripPort) : nil
        for route in routes {
            if let routeHost = route.host, routeHost != requestHost { continue }
            if Self.matches(contextPath: route.path, requestPath: path) { return route }
        }
        return nil
    }

    static func matches(contextPath: String, requestPath: String) -> Bool {
        if contextPath == "/" { return true }
        guard requestPath.hasPrefix(contextPath) else { return false }
        if requestPath.utf8.count == contextPath.utf8.count { return true }
        let next = requestPath.utf8[
            requestPath.utf8.index(requestPath.utf8.startIndex, offsetBy: contextPath.utf8.count)]
        return next == UInt8(ascii: "/")
    }

    static func stripPort(_ host: String) -> String {
        let lowered = host.lowercased()
        if lowered.hasPrefix("[") { return lowered.split(separator: "]").first.map { $0 + "]" } ?? lowered }
        return lowered.split(separator: ":").first.map(String.init) ?? lowered
    }

    /// The first listener path of `definition` that an already-routed API also claims, if any.
    func conflict(with definition: APIDefinition) -> (APIDefinition.ListenerPath, String)? {
        for path in definition.httpPaths {
            if let other = routes.first(where: {
                $0.host == path.host && $0.path == path.path && $0.deployment.id != definition.id
            }) {
                return (path, other.deployment.id)
            }
        }
        return nil
    }
}

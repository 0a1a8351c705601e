import Hummingbird
import Logging

/// Turns every error a route throws into a problem detail: the typed problems as they are, framework errors
/// (unknown route, body too large) with their status, anything else as a logged 500 that says nothing of the
/// internals.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = ManagementRequestContext
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let problem = ManagementProblem.from(error) { return problem.response(instance: request.uri.path) }
            logger.error(
                "management request failed",
                metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            return ManagementProblem(
                status: .internalServerError, code: "internal-error", title: "Internal server error",
                detail: "the request failed on the server; the server's log says why"
            ).response(instance: request.uri.path)
        }
    }
}

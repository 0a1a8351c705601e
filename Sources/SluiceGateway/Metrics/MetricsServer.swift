import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The management listener (the `metrics.port` setting): apart from the APIs' port so that no API's context path
/// can shadow it and it can stay off the public network. It answers `GET /_node/metrics/prometheus` (the path of
/// Gravitee's node API), `GET /metrics` and the `metrics.path` setting's path with the Prometheus text of that
/// moment, and `GET /health/live` and `/health/ready` with the gateway's health as JSON; anything else is 404.
enum MetricsServer {
    static let paths: Set<String> = ["/_node/metrics/prometheus", "/metrics"]

    /// An answer of the listener.
    struct Answer: Sendable {
        var status: HTTPResponse.Status
        var contentType: String
        var body: String
    }

    static func build(
        host: String, port: Int, extraPath: String? = nil, logger: Logger,
        render: @escaping @Sendable () -> String,
        health: @escaping @Sendable (_ ready: Bool) async -> Answer,
        onRunning: @escaping @Sendable (Int) -> Void
    ) throws -> any Service {
        let metricsPaths = paths.union(extraPath.map { [$0] } ?? [])
        return try HTTPServerBuilder.http1().buildServer(
            configuration: ServerConfiguration(address: .hostname(host, port: port)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            responder: { request, writer, _ in
                let path = request.uri.path
                let answer: Answer
                if request.method != .get && request.method != .head {
                    answer = Answer(
                        status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
                        body: "only GET and HEAD\n")
                } else if metricsPaths.contains(path) {
                    answer = Answer(status: .ok, contentType: PrometheusExposition.contentType, body: render())
                } else if path == "/health/live" {
                    answer = await health(false)
                } else if path == "/health/ready" {
                    answer = await health(true)
                } else {
                    answer = Answer(
                        status: .notFound, contentType: "text/plain; charset=utf-8",
                        body: "not found: the metrics are at /_node/metrics/prometheus, health at /health/ready\n")
                }
                var head = HTTPResponse(status: answer.status)
                head.headerFields[.contentType] = answer.contentType
                let body = ByteBuffer(string: answer.body)
                head.headerFields[.contentLength] = String(body.readableBytes)
                try await writer.write(
                    response: head, body: ResponseBody(byteBuffer: request.method == .head ? ByteBuffer() : body))
            },
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }
        )
    }
}

import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The Prometheus scrape endpoint: a listener of its own (the `metrics.port` setting), apart from the APIs' port
/// so that no API's context path can shadow it and it can stay off the public network. It answers
/// `GET /_node/metrics/prometheus` (the path of Gravitee's node API) and `GET /metrics` with the text the gateway
/// renders at that moment; anything else is 404.
enum MetricsServer {
    static let paths: Set<String> = ["/_node/metrics/prometheus", "/metrics"]

    static func build(
        host: String, port: Int, logger: Logger, render: @escaping @Sendable () -> String,
        onRunning: @escaping @Sendable (Int) -> Void
    ) throws -> any Service {
        try HTTPServerBuilder.http1().buildServer(
            configuration: ServerConfiguration(address: .hostname(host, port: port)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            responder: { request, writer, _ in
                var head = HTTPResponse(status: .ok)
                let body: ByteBuffer
                if request.method == .get || request.method == .head, paths.contains(request.uri.path) {
                    head.headerFields[.contentType] = PrometheusExposition.contentType
                    body = ByteBuffer(string: render())
                } else {
                    head.status = .notFound
                    head.headerFields[.contentType] = "text/plain; charset=utf-8"
                    body = ByteBuffer(string: "not found: the metrics are at /_node/metrics/prometheus\n")
                }
                head.headerFields[.contentLength] = String(body.readableBytes)
                try await writer.write(response: head, body: ResponseBody(byteBuffer: body))
            },
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) }
        )
    }
}

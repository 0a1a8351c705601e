import Foundation
public import HTTPTypes
public import HummingbirdCore
import NIOCore
public import SluiceCore

/// The `http-post` entrypoint: one request body becomes one message; the client gets 202 once the endpoint
/// has it.
public struct HTTPPostEntrypoint: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Copy the request's headers into the message's headers. Default: false.
        public var requestHeadersToMessage = false

        public init() {}

        public static func parse(
            _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(["requestHeadersToMessage"], &diagnostics)
            var configuration = Configuration()
            configuration.requestHeadersToMessage = reader.bool("requestHeadersToMessage", &diagnostics) ?? false
            return configuration
        }
    }

    public static let type = "http-post"
    public static let supportedQoS: Set<MessageQoS> = [.none, .auto]

    /// Request headers that describe the HTTP exchange rather than the message; never copied into it. The API
    /// key header is left out too, unless the plan propagates it (``EntrypointInvocation/apiKeyHeader``).
    public static let hopHeaders: Set<HTTPField.Name> = [
        .connection, .contentLength, .transferEncoding, .upgrade, .te, .proxyAuthorization,
        .expect, HTTPField.Name("Host")!, HTTPField.Name("Keep-Alive")!,
    ]

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Publishes the request's body. `plan` is the plan that let the request in: its attributes travel with the
    /// message, and it says whether the `Authorization` header may reach the endpoint.
    public func handle(
        _ request: Request, writer: consuming ResponseWriter, invocation: EntrypointInvocation,
        plan: SecurityChain.ResolvedPlan? = nil
    ) async throws {
        let limit = invocation.limits.maxRequestBodyBytes
        guard let body = try await collectBody(request.body, limit: limit) else {
            try await GatewayError.payloadTooLarge(limit: limit).write(
                to: writer, closeConnection: true, headers: invocation.headers())
            return
        }
        var message = Message(content: body, timestamp: Date.nowMilliseconds, attributes: plan?.attributes ?? [:])
        let dropsAuthorization = plan.map { !$0.propagatesAuthorization } ?? false
        let dropsAPIKey = !(plan?.propagatesAPIKey ?? false)
        let apiKeyHeader = invocation.apiKeyHeader
        if configuration.requestHeadersToMessage {
            if let flow = invocation.flow {
                // The request's headers as its flows' request phase left them.
                for (name, value) in flow.requestHeaders {
                    guard let field = HTTPField.Name(name), !Self.hopHeaders.contains(field),
                        !MessageHeaders.isTraceContextName(field.canonicalName)
                    else { continue }
                    if dropsAuthorization, field == .authorization { continue }
                    if dropsAPIKey, field == apiKeyHeader { continue }
                    message.headers.add(name: name, value: value)
                }
            } else {
                for field in request.headers where !Self.hopHeaders.contains(field.name) {
                    if MessageHeaders.isTraceContextName(field.name.canonicalName) { continue }
                    if dropsAuthorization, field.name == .authorization { continue }
                    if dropsAPIKey, field.name == apiKeyHeader { continue }
                    message.headers.add(name: field.name.rawName, value: field.value)
                }
            }
        }
        // The client's trace context travels with the message whatever the configuration says (W3C Trace Context):
        // a valid one only.
        if let flow = invocation.flow {
            let requestHeaders = flow.requestHeaders
            message.headers.addTraceContext { requestHeaders.first($0) }
        } else {
            for field in MessageHeaders.traceContext(of: request.headers) {
                message.headers.add(name: field.name, value: field.value)
            }
        }
        let echo = invocation.headers([ClientIdentifier.field: ClientIdentifier.resolve(request).value])
        if let flow = invocation.flow {
            // The publish phase: a dropped message is answered as a published one (the client's part is done).
            switch await flow.process(message, in: .publish) {
            case .deliver(let processed): message = processed
            case .drop:
                invocation.observer?.filtered()
                var head = HTTPResponse(status: .accepted, headerFields: echo)
                head.headerFields[.contentLength] = "0"
                try await writer.writeResponse(head)
                return
            case .fail(let error):
                try await error.write(to: writer, headers: echo)
                return
            }
        }
        let span = invocation.trace?.publishing(&message)
        do {
            _ = try await invocation.endpoint.publish(message)
            span?.end(error: nil)
            invocation.observer?.published(message)
        } catch let error as GatewayError {
            span?.end(error: error.key)
            invocation.observer?.publishFailed(message)
            try await error.write(to: writer, headers: echo)
            return
        } catch is CancellationError {
            span?.end(error: "cancelled")
            throw CancellationError()
        } catch {
            span?.end(error: "\(error)")
            invocation.observer?.publishFailed(message)
            invocation.logger.warning("publish failed", metadata: ["api": "\(invocation.apiID)", "error": "\(error)"])
            try await GatewayError.endpointUnavailable("The endpoint could not accept the message.").write(
                to: writer, headers: echo)
            return
        }
        var head = HTTPResponse(status: .accepted, headerFields: echo)
        head.headerFields[.contentLength] = "0"
        try await writer.writeResponse(head)
    }
}

public import HTTPTypes
public import SluiceCore

/// The spans of one request or connection, when the gateway traces (`tracing.enabled`). Entrypoints hold an
/// optional one (``EntrypointInvocation/trace``): with tracing off it is nil and no tracing work happens at all.
public protocol RequestTrace: Sendable {
    /// Starts the producer span of a message about to be published, a child of the request's span, and sets the
    /// message's `traceparent` (and `tracestate`) to that span, so that the message's consumers join the trace.
    func publishing(_ message: inout Message) -> any MessageSpan
    /// Starts the consumer span of a message about to be handed to this request's client, a child of the trace
    /// context the message carries (a new trace when it carries none).
    func delivering(_ message: Message) -> any MessageSpan
    /// Ends the request's own span. `status` is the HTTP status answered, when there is one.
    func end(status: Int?, error: String?)
}

/// A span around one message's publish, delivery or webhook callback.
public protocol MessageSpan: Sendable {
    /// Ends the span; `error` describes a failure (nil: it went through).
    func end(error: String?)
}

/// The spans of a webhook subscription's callbacks, when the gateway traces.
public protocol CallbackTracer: Sendable {
    /// Starts the client span of a callback POST that carries `message`, a child of the message's trace context.
    /// Returns it with the `traceparent` and `tracestate` the callback request carries.
    func calling(_ url: String, for message: Message) -> (span: any MessageSpan, parent: String, state: String?)
}

extension Sequence where Element == any MessageSpan {
    /// Ends every span with the same outcome.
    public func end(error: String?) {
        for span in self { span.end(error: error) }
    }
}

extension MessageHeaders {
    package static let traceParentField = HTTPField.Name(TraceParent.headerName)!
    package static let traceStateField = HTTPField.Name(TraceParent.stateHeaderName)!

    /// The valid trace context of a request's `fields`, as message headers (empty when there is none).
    package static func traceContext(of fields: HTTPFields) -> MessageHeaders {
        var headers = MessageHeaders()
        headers.addTraceContext { name in
            switch name {
            case TraceParent.headerName: fields[traceParentField]
            case TraceParent.stateHeaderName: fields[traceStateField]
            default: nil
            }
        }
        return headers
    }
}

public import HTTPTypes
public import HummingbirdCore
import NIOCore
public import SluiceCore

/// The CORS headers an answer gets: the API's settings (nil when CORS is not enabled) for the request's `Origin`.
public struct ResponseCORS: Sendable {
    public var configuration: CORSConfiguration?
    public var origin: String?

    public init(configuration: CORSConfiguration? = nil, origin: String? = nil) {
        self.configuration = configuration
        self.origin = origin
    }

    /// `fields` with their CORS headers set, or removed when the origin is not allowed (see
    /// ``CORSConfiguration/apply(to:origin:)``); unchanged when CORS is not enabled.
    public func applied(to fields: HTTPFields) -> HTTPFields {
        guard let configuration else { return fields }
        var headers = MessageHeaders()
        for field in fields { headers.add(name: field.name.rawName, value: field.value) }
        configuration.apply(to: &headers, origin: origin)
        return HTTPFields(headers)
    }
}

extension HTTPFields {
    /// `headers` as HTTP fields (names that are not valid HTTP field names are left out).
    init(_ headers: MessageHeaders) {
        self.init()
        for (name, value) in headers {
            if let fieldName = HTTPField.Name(name) { append(HTTPField(name: fieldName, value: value)) }
        }
    }
}

extension FlowResponse {
    /// Writes this answer given in the endpoint's place (a `mock` step's, a CORS preflight's): with `headers` (rate
    /// limits) added, after the response phase of `flow` ran on it (an error it ends with answers instead), and with
    /// the CORS headers set last, as Gravitee sets them after the flows.
    public func write(
        to writer: consuming ResponseWriter, flow: FlowRun?, headers extra: HTTPFields, cors: ResponseCORS
    ) async throws {
        var headers = self.headers
        for field in extra { headers.add(name: field.name.rawName, value: field.value) }
        if let flow, let error = await flow.runResponse(headers: &headers, status: status) {
            try await error.write(to: writer, headers: cors.applied(to: extra))
            return
        }
        var head = HTTPResponse(status: .init(code: status))
        head.headerFields = cors.applied(to: HTTPFields(headers))
        // 1xx, 204 and 304 answers have no body (RFC 9110 §6.4.1).
        let bodyless = status < 200 || status == 204 || status == 304
        let content = bodyless ? ByteBuffer() : ByteBuffer(string: body)
        head.headerFields[.contentLength] = bodyless ? nil : String(content.readableBytes)
        try await writer.write(response: head, body: ResponseBody(byteBuffer: content))
    }
}

public import HTTPTypes
public import HummingbirdCore
public import NIOCore
public import SluiceCore

extension GatewayError {
    /// Writes this error as the whole response: its status, `Content-Type: application/json`, the JSON body.
    public func write(to writer: consuming ResponseWriter, closeConnection: Bool = false) async throws {
        var head = HTTPResponse(status: .init(code: status))
        head.headerFields[.contentType] = "application/json"
        let body = ByteBuffer(string: jsonBody)
        head.headerFields[.contentLength] = String(body.readableBytes)
        if closeConnection { head.headerFields[.connection] = "close" }
        try await writer.write(response: head, body: ResponseBody(byteBuffer: body))
    }
}

/// Reads a request body up to `limit` bytes; nil when the body is larger (the rest is left unread).
func collectBody(_ body: RequestBody, limit: Int) async throws -> ByteBuffer? {
    var collected = ByteBuffer()
    for try await part in body {
        if collected.readableBytes + part.readableBytes > limit { return nil }
        var part = part
        collected.writeBuffer(&part)
    }
    return collected
}

extension Request {
    /// The first query parameter named `name`, percent-decoded.
    func queryValue(_ name: String) -> String? {
        uri.queryParameters[name[...]].map(String.init)
    }

    /// Content-Length when given and valid.
    var declaredContentLength: Int? {
        headers[.contentLength].flatMap { Int($0) }
    }
}

public import HTTPTypes
public import HummingbirdCore
public import NIOCore
public import SluiceCore

extension GatewayError {
    /// Writes this error as the whole response: its status, `Content-Type: application/json`, the JSON body.
    public func write(
        to writer: consuming ResponseWriter, closeConnection: Bool = false, headers: HTTPFields = [:]
    ) async throws {
        var head = HTTPResponse(status: .init(code: status), headerFields: headers)
        head.headerFields[.contentType] = "application/json"
        if let challenge { head.headerFields[.wwwAuthenticate] = challenge }
        let body = ByteBuffer(string: jsonBody)
        head.headerFields[.contentLength] = String(body.readableBytes)
        if closeConnection { head.headerFields[.connection] = "close" }
        try await writer.write(response: head, body: ResponseBody(byteBuffer: body))
    }
}

/// Reads a request body up to `limit` bytes; nil when the body is larger (the rest is left unread).
func collectBody(_ body: RequestBody, limit: Int) async throws -> ByteBuffer? {
    var iterator = body.makeAsyncIterator()
    // Most bodies arrive in one part: keep it as it is, without a copy.
    guard var collected = try await iterator.next() else { return ByteBuffer() }
    if collected.readableBytes > limit { return nil }
    while var part = try await iterator.next() {
        if collected.readableBytes + part.readableBytes > limit { return nil }
        collected.writeBuffer(&part)
    }
    return collected
}

extension Request {
    /// The first query parameter named `name`, percent-decoded.
    func queryValue(_ name: String) -> String? {
        uri.queryParameters[name[...]].map(String.init)
    }

}

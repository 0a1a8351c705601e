import NIOCore
import NIOHTTP1
import SluiceCore

extension ChannelHandlerContext {
    /// Writes a whole HTTP/1 response from a handler placed after the response encoder: `error` as its JSON body
    /// with its status, and closes the connection after it when `closeAfter` is set. Returns the write of the
    /// response's end.
    @discardableResult
    func writeGatewayError(
        _ error: GatewayError, version: HTTPVersion, closeAfter: Bool, headers: HTTPHeaders = HTTPHeaders()
    ) -> EventLoopFuture<Void> {
        var body = channel.allocator.buffer(capacity: 160)
        body.writeString(error.jsonBody)
        var headers = headers
        if let challenge = error.challenge { headers.add(name: "www-authenticate", value: challenge) }
        return writeWholeResponse(
            status: HTTPResponseStatus(statusCode: error.status), body: body, version: version, closeAfter: closeAfter,
            headers: headers)
    }

    /// Writes a whole HTTP/1 response with a JSON `body` (or none) and `headers`, then closes the connection if
    /// asked. Returns the write of the response's end.
    @discardableResult
    func writeWholeResponse(
        status: HTTPResponseStatus, body: ByteBuffer?, version: HTTPVersion, closeAfter: Bool,
        headers: HTTPHeaders = HTTPHeaders()
    ) -> EventLoopFuture<Void> {
        var headers = headers
        if let body {
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.readableBytes))
        } else {
            headers.add(name: "content-length", value: "0")
        }
        if closeAfter { headers.add(name: "connection", value: "close") }
        write(
            NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))),
            promise: nil)
        if let body { write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil) }
        let ended = writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        if closeAfter {
            let boundContext = NIOLoopBound(self, eventLoop: eventLoop)
            ended.whenComplete { _ in boundContext.value.close(promise: nil) }
        }
        return ended
    }
}

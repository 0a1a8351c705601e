import NIOCore
import NIOHTTP1
import SluiceCore

extension ChannelHandlerContext {
    /// Writes a whole HTTP/1 response from a handler placed after the response encoder: `error` as its JSON body
    /// with its status, and closes the connection after it when `closeAfter` is set. `promise`, if any, completes
    /// with the write of the response's end.
    func writeGatewayError(
        _ error: GatewayError, version: HTTPVersion, closeAfter: Bool, headers: HTTPHeaders = HTTPHeaders(),
        promise: EventLoopPromise<Void>? = nil
    ) {
        var body = channel.allocator.buffer(capacity: 160)
        body.writeString(error.jsonBody)
        var headers = headers
        if let challenge = error.challenge { headers.add(name: "www-authenticate", value: challenge) }
        writeWholeResponse(
            status: HTTPResponseStatus(statusCode: error.status), body: body, version: version, closeAfter: closeAfter,
            headers: headers, promise: promise)
    }

    /// Writes a whole HTTP/1 response with a JSON `body` (or none) and `headers`, then closes the connection if
    /// asked. `promise`, if any, completes with the write of the response's end. Without either, the write makes
    /// no future: an answer on the hot path allocates none.
    func writeWholeResponse(
        status: HTTPResponseStatus, body: ByteBuffer?, version: HTTPVersion, closeAfter: Bool,
        headers: consuming HTTPHeaders = HTTPHeaders(), promise: EventLoopPromise<Void>? = nil
    ) {
        // Owned here, so the framing headers are added in place rather than to a copy of the caller's list.
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
        guard closeAfter else {
            writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: promise)
            return
        }
        let ended = promise ?? eventLoop.makePromise()
        writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: ended)
        let boundContext = NIOLoopBound(self, eventLoop: eventLoop)
        ended.futureResult.whenComplete { _ in boundContext.value.close(promise: nil) }
    }
}

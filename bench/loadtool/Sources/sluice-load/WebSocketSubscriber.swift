import NIOCore

/// One WebSocket subscriber: sends the upgrade request, checks for 101, then reads server frames (unmasked, as
/// RFC 6455 requires of a server), counts each text or binary message and measures its delay from the
/// `t=<unix nanos>;` at the start of its payload. Pings are answered; a close frame ends the stream.
final class WebSocketSubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingHead
        case streaming
        case finished
    }

    private let stats: SubscriberStats
    private let request: String
    private var state = State.awaitingHead
    private var pending = ByteBuffer()
    /// Fragmented message in progress: its timestamp was read from the first fragment.
    private var fragmentTimestamp: Int64?

    init(stats: SubscriberStats, request: String) {
        self.stats = stats
        self.request = request
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: request.utf8.count)
        buffer.writeString(request)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .finished = state { return }
        var buffer = unwrapInboundIn(data)
        pending.writeBuffer(&buffer)
        process(context: context, now: wallClockNanos())
    }

    private func process(context: ChannelHandlerContext, now: Int64) {
        if case .awaitingHead = state {
            let view = pending.readableBytesView
            guard let end = Self.endOfHead(view) else {
                if pending.readableBytes > 16_384 { fail(context: context, protocolError: true) }
                return
            }
            let statusLine = String(decoding: view.prefix(12), as: UTF8.self)
            pending.moveReaderIndex(forwardBy: end)
            guard statusLine == "HTTP/1.1 101" else {
                stats.badStatus += 1
                fail(context: context, protocolError: false)
                return
            }
            state = .streaming
            stats.established += 1
        }
        while case .streaming = state, let frame = nextFrame() {
            handle(frame: frame, context: context, now: now)
        }
        pending.discardReadBytes()
    }

    private struct Frame {
        var fin: Bool
        var opcode: UInt8
        var payload: ByteBuffer
    }

    /// The next whole frame in `pending`, or nil when more bytes are needed.
    private func nextFrame() -> Frame? {
        guard pending.readableBytes >= 2, let first = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
            let second = pending.getInteger(at: pending.readerIndex + 1, as: UInt8.self)
        else { return nil }
        var headerLength = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let value = pending.getInteger(at: pending.readerIndex + 2, as: UInt16.self) else { return nil }
            length = Int(value)
            headerLength = 4
        } else if length == 127 {
            guard let value = pending.getInteger(at: pending.readerIndex + 2, as: UInt64.self) else { return nil }
            length = Int(clamping: value)
            headerLength = 10
        }
        let masked = second & 0x80 != 0
        if masked { headerLength += 4 }
        guard pending.readableBytes >= headerLength + length else { return nil }
        pending.moveReaderIndex(forwardBy: headerLength)
        let payload = pending.readSlice(length: length)!
        return Frame(fin: first & 0x80 != 0, opcode: first & 0x0F, payload: payload)
    }

    private func handle(frame: Frame, context: ChannelHandlerContext, now: Int64) {
        switch frame.opcode {
        case 0x1, 0x2:
            let timestamp = Self.timestamp(frame.payload)
            if frame.fin {
                stats.recordEvent(sentAt: timestamp, receivedAt: now)
            } else {
                fragmentTimestamp = timestamp
            }
        case 0x0:
            if frame.fin, let timestamp = fragmentTimestamp {
                stats.recordEvent(sentAt: timestamp, receivedAt: now)
                fragmentTimestamp = nil
            }
        case 0x8:
            stats.endedStreams += 1
            state = .finished
            context.close(promise: nil)
        case 0x9:
            context.writeAndFlush(wrapOutboundOut(Self.maskedFrame(opcode: 0xA, payload: frame.payload)), promise: nil)
        default:
            break
        }
    }

    private func fail(context: ChannelHandlerContext, protocolError: Bool) {
        if protocolError { stats.protocolErrors += 1 }
        state = .finished
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !stats.stopping {
            switch state {
            case .streaming: stats.droppedStreams += 1
            case .awaitingHead: stats.closedBeforeHead += 1
            case .finished: break
            }
        }
        state = .finished
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.socketErrors += 1
        context.close(promise: nil)
    }

    private static func endOfHead(_ bytes: ByteBufferView) -> Int? {
        var index = bytes.startIndex
        while index + 3 < bytes.endIndex {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                return index + 4 - bytes.startIndex
            }
            index += 1
        }
        return nil
    }

    /// The `t=<unix nanos>;` at the start of a payload, or -1.
    private static func timestamp(_ payload: ByteBuffer) -> Int64 {
        let view = payload.readableBytesView
        guard view.count > 3, view.first == UInt8(ascii: "t"), view[view.startIndex + 1] == UInt8(ascii: "=") else {
            return -1
        }
        var value: Int64 = 0
        var digits = 0
        for byte in view.dropFirst(2) {
            if byte == UInt8(ascii: ";") { return digits > 0 ? value : -1 }
            guard byte >= 48, byte <= 57, digits < 19 else { return -1 }
            value = value * 10 + Int64(byte - 48)
            digits += 1
        }
        return -1
    }

    /// A client frame: always masked (the mask is fixed; it only has to be present).
    private static func maskedFrame(opcode: UInt8, payload: ByteBuffer) -> ByteBuffer {
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        var frame = ByteBuffer()
        frame.writeInteger(0x80 | opcode)
        frame.writeInteger(UInt8(0x80 | min(payload.readableBytes, 125)))
        frame.writeBytes(mask)
        for (index, byte) in payload.readableBytesView.prefix(125).enumerated() {
            frame.writeInteger(byte ^ mask[index % 4])
        }
        return frame
    }
}

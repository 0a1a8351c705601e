import NIOCore
import NIOHPACK
import NIOHTTP2

/// Between an upgraded connection's HTTP/2 handler and the socket: drops the HEADERS frame (and its CONTINUATION
/// frames) of stream 1, then lets everything through and leaves the pipeline.
///
/// After an h2c upgrade the server answers on stream 1 the request the upgrade rode on, which the client sent in
/// HTTP/1.1. NIO's HTTP/2 handler only accepts frames for streams it opened, so the request is "sent" on stream 1
/// as well, and its frame is dropped here: the handler's state then has stream 1 half-closed (local), as RFC 7540
/// §3.2 has it. The frame's fields are not indexed (``H2CUnindexedHeadersHandler``), so the HPACK table the
/// backend decodes with stays the encoder's.
final class H2CStreamOneFilter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum State {
        /// The client connection preface's first 24 bytes (`PRI * HTTP/2.0…`).
        case preface(remaining: Int)
        /// Reading a frame's 9-byte header.
        case frameHeader
        /// Inside a frame's payload, kept or dropped.
        case payload(remaining: Int, drop: Bool)
        /// Stream 1's headers are dropped: everything passes.
        case done
    }

    private static let frameHeaderSize = 9
    private static let headersType: UInt8 = 0x1
    private static let continuationType: UInt8 = 0x9
    private static let endHeadersFlag: UInt8 = 0x4

    private var state = State.preface(remaining: 24)
    /// The bytes of a frame header that is not complete yet. (A write all of whose bytes are held or dropped
    /// succeeds at once: held bytes go out with a later write.)
    private var held: ByteBuffer?
    /// Whether the frame being dropped ends stream 1's header block (else CONTINUATION frames follow).
    private var headerBlockEnds = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data), !isDone else {
            context.write(data, promise: promise)
            return
        }
        var kept: [ByteBuffer] = []
        while buffer.readableBytes > 0 {
            switch state {
            case .done:
                kept.append(buffer.readSlice(length: buffer.readableBytes)!)
            case .preface(let remaining):
                let count = min(remaining, buffer.readableBytes)
                kept.append(buffer.readSlice(length: count)!)
                state = remaining == count ? .frameHeader : .preface(remaining: remaining - count)
            case .payload(let remaining, let drop):
                let count = min(remaining, buffer.readableBytes)
                let slice = buffer.readSlice(length: count)!
                if !drop { kept.append(slice) }
                if remaining == count {
                    state = drop && headerBlockEnds ? .done : .frameHeader
                } else {
                    state = .payload(remaining: remaining - count, drop: drop)
                }
            case .frameHeader:
                var header = held ?? context.channel.allocator.buffer(capacity: Self.frameHeaderSize)
                let count = min(Self.frameHeaderSize - header.readableBytes, buffer.readableBytes)
                var slice = buffer.readSlice(length: count)!
                header.writeBuffer(&slice)
                guard header.readableBytes == Self.frameHeaderSize else {
                    held = header
                    continue
                }
                held = nil
                let view = header.readableBytesView
                let start = view.startIndex
                let length = Int(view[start]) << 16 | Int(view[start + 1]) << 8 | Int(view[start + 2])
                let type = view[start + 3]
                let flags = view[start + 4]
                let streamID =
                    (UInt32(view[start + 5]) & 0x7f) << 24 | UInt32(view[start + 6]) << 16
                    | UInt32(view[start + 7]) << 8 | UInt32(view[start + 8])
                let drop = streamID == 1 && (type == Self.headersType || type == Self.continuationType)
                if drop {
                    headerBlockEnds = flags & Self.endHeadersFlag != 0
                } else {
                    kept.append(header)
                }
                if length == 0 {
                    state = drop && headerBlockEnds ? .done : .frameHeader
                } else {
                    state = .payload(remaining: length, drop: drop)
                }
            }
        }
        if let last = kept.popLast() {
            for slice in kept { context.write(wrapOutboundOut(.byteBuffer(slice)), promise: nil) }
            context.write(wrapOutboundOut(.byteBuffer(last)), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    /// Leaves the pipeline once done, after passing the flush on (a handler removed inside its own `write` would
    /// lose the flush of a `writeAndFlush`).
    func flush(context: ChannelHandlerContext) {
        context.flush()
        if isDone { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    private var isDone: Bool {
        if case .done = state { return true }
        return false
    }

}

/// On stream 1 of an upgraded connection: its request's header fields are sent "without indexing", because
/// ``H2CStreamOneFilter`` drops them before the server sees them; an indexed field would leave the encoder's table
/// ahead of the server's decoder.
final class H2CUnindexedHeadersHandler: ChannelOutboundHandler {
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .headers(var headers) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        var unindexed = HPACKHeaders()
        for (name, value, _) in headers.headers { unindexed.add(name: name, value: value, indexing: .nonIndexable) }
        headers.headers = unindexed
        context.write(wrapOutboundOut(.headers(headers)), promise: promise)
    }
}

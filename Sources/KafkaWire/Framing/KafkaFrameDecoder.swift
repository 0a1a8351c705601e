import NIOCore

/// Splits a byte stream into Kafka frames: an int32 size followed by that many bytes.
///
/// A frame is handed on only when it is complete; a size that is negative or above `maximumFrameSize` is an
/// error, so a peer sending garbage cannot make the client buffer without bound.
public struct KafkaFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// The largest frame accepted. Default: 100 MiB (Kafka's `socket.request.max.bytes` is 100 MiB too).
    public var maximumFrameSize: Int

    public init(maximumFrameSize: Int = 100 * 1024 * 1024) {
        self.maximumFrameSize = maximumFrameSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: Int32.self) else {
            return nil
        }
        guard size >= 0 else {
            throw KafkaWireError(.invalidLength, "frame size \(size) is negative")
        }
        guard Int(size) <= maximumFrameSize else {
            throw KafkaWireError(.frameTooLarge, "frame of \(size) bytes; the maximum is \(maximumFrameSize)")
        }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}

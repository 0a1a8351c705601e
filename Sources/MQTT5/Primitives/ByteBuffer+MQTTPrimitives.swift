import NIOCore

// MQTT 5.0's data representations (section 1.5): big-endian Two and Four Byte Integers, Variable Byte Integers of
// at most four bytes, UTF-8 Encoded Strings and Binary Data behind a Two Byte Integer length, and UTF-8 String Pairs.
// Readers throw `MQTTProtocolError` and never trap; writers refuse values that would make a malformed packet.

extension ByteBuffer {
    /// The largest value a Variable Byte Integer can hold (four bytes of seven bits).
    package static let mqttMaximumVariableByteInteger = 268_435_455

    // MARK: Fixed width

    package mutating func readMQTTByte() throws(MQTTProtocolError) -> UInt8 {
        guard let value = readInteger(as: UInt8.self) else {
            throw MQTTProtocolError(.truncated, "expected a byte, none left")
        }
        return value
    }

    package mutating func readMQTTTwoByteInteger() throws(MQTTProtocolError) -> UInt16 {
        guard let value = readInteger(endianness: .big, as: UInt16.self) else {
            throw MQTTProtocolError(.truncated, "expected a Two Byte Integer, \(readableBytes) bytes left")
        }
        return value
    }

    package mutating func readMQTTFourByteInteger() throws(MQTTProtocolError) -> UInt32 {
        guard let value = readInteger(endianness: .big, as: UInt32.self) else {
            throw MQTTProtocolError(.truncated, "expected a Four Byte Integer, \(readableBytes) bytes left")
        }
        return value
    }

    // MARK: Variable Byte Integer

    /// The outcome of looking for a Variable Byte Integer in bytes that may not have fully arrived.
    package enum MQTTVariableByteIntegerPeek: Equatable {
        /// The bytes end before the integer does.
        case incomplete
        /// The value, and how many bytes encode it.
        case complete(value: Int, length: Int)
    }

    /// Looks for a Variable Byte Integer at `index` without moving the reader index.
    ///
    /// A fifth byte, or a fourth byte with its continuation bit set, is an error as soon as it is seen. So is an
    /// encoding longer than its value needs: "The encoded value MUST use the minimum number of bytes necessary to
    /// represent the value" (1.5.5). Refusing it keeps one encoding per value, so a packet re-encodes to the bytes
    /// it came from.
    package func peekMQTTVariableByteInteger(at index: Int) throws(MQTTProtocolError) -> MQTTVariableByteIntegerPeek {
        var value = 0
        for position in 0..<4 {
            guard let byte = getInteger(at: index + position, as: UInt8.self) else { return .incomplete }
            value |= Int(byte & 0x7F) << (7 * position)
            if byte & 0x80 == 0 {
                if position > 0 && byte == 0 {
                    throw MQTTProtocolError(
                        .invalidVariableByteInteger,
                        "value \(value) encoded in \(position + 1) bytes, more than it needs")
                }
                return .complete(value: value, length: position + 1)
            }
        }
        throw MQTTProtocolError(.invalidVariableByteInteger, "a Variable Byte Integer continues past four bytes")
    }

    package mutating func readMQTTVariableByteInteger() throws(MQTTProtocolError) -> Int {
        switch try peekMQTTVariableByteInteger(at: readerIndex) {
        case .incomplete:
            throw MQTTProtocolError(.truncated, "a Variable Byte Integer ends after \(readableBytes) bytes")
        case .complete(let value, let length):
            moveReaderIndex(forwardBy: length)
            return value
        }
    }

    /// Writes `value` in as few bytes as it needs; returns how many.
    @discardableResult
    package mutating func writeMQTTVariableByteInteger(_ value: Int) throws(MQTTProtocolError) -> Int {
        guard value >= 0 && value <= Self.mqttMaximumVariableByteInteger else {
            throw MQTTProtocolError(.valueTooLarge, "\(value) does not fit a Variable Byte Integer")
        }
        var value = value
        var written = 0
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value > 0 { byte |= 0x80 }
            writeInteger(byte)
            written += 1
        } while value > 0
        return written
    }

    /// Writes `value` over the four bytes at `index` in as few bytes as it needs; returns how many.
    mutating func setMQTTVariableByteInteger(_ value: Int, at index: Int) -> Int {
        var value = value
        var written = 0
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value > 0 { byte |= 0x80 }
            setInteger(byte, at: index + written)
            written += 1
        } while value > 0
        return written
    }

    /// How many bytes `value` takes as a Variable Byte Integer.
    package static func mqttVariableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: return 1
        case ..<16_384: return 2
        case ..<2_097_152: return 3
        default: return 4
        }
    }

    // MARK: Strings and binary data

    /// A UTF-8 Encoded String: well-formed UTF-8 (so no encoded surrogates, no overlong forms) without U+0000.
    ///
    /// The control characters and non-characters the spec says SHOULD NOT appear are accepted: a receiver MAY
    /// refuse them, and refusing them would let one publisher cut every subscriber off (5.4.9).
    package mutating func readMQTTString() throws(MQTTProtocolError) -> String {
        let length = Int(try readMQTTTwoByteInteger())
        guard let bytes = readSlice(length: length) else {
            throw MQTTProtocolError(.truncated, "string of \(length) bytes, \(readableBytes) bytes left")
        }
        let view = bytes.readableBytesView
        // In well-formed UTF-8 a zero byte only ever encodes U+0000.
        guard !view.contains(0) else {
            throw MQTTProtocolError(.invalidString, "string contains U+0000")
        }
        guard let string = String(validating: view, as: UTF8.self) else {
            throw MQTTProtocolError(.invalidString, "string is not well-formed UTF-8")
        }
        return string
    }

    package mutating func writeMQTTString(_ string: String) throws(MQTTProtocolError) {
        let length = string.utf8.count
        guard length <= Int(UInt16.max) else {
            throw MQTTProtocolError(.valueTooLarge, "string of \(length) bytes; the maximum is 65535")
        }
        guard !string.utf8.contains(0) else {
            throw MQTTProtocolError(.invalidString, "string contains U+0000")
        }
        writeInteger(UInt16(length), endianness: .big)
        writeString(string)
    }

    package mutating func readMQTTBinary() throws(MQTTProtocolError) -> ByteBuffer {
        let length = Int(try readMQTTTwoByteInteger())
        guard let bytes = readSlice(length: length) else {
            throw MQTTProtocolError(.truncated, "binary data of \(length) bytes, \(readableBytes) bytes left")
        }
        return bytes
    }

    package mutating func writeMQTTBinary(_ data: ByteBuffer) throws(MQTTProtocolError) {
        guard data.readableBytes <= Int(UInt16.max) else {
            throw MQTTProtocolError(.valueTooLarge, "binary data of \(data.readableBytes) bytes; the maximum is 65535")
        }
        writeInteger(UInt16(data.readableBytes), endianness: .big)
        writeImmutableBuffer(data)
    }

    /// How many bytes `string` takes as a UTF-8 Encoded String, length prefix included.
    package static func mqttStringSize(_ string: String) -> Int { 2 + string.utf8.count }
}

extension ByteBuffer {
    // MARK: Length-prefixed sections

    /// Writes a Variable Byte Integer length, then what `body` writes; the length also counts `trailingLength`
    /// bytes that the caller writes afterwards (a PUBLISH payload, which is then never moved).
    ///
    /// Four bytes are set aside for the length, and the body is moved back over the ones the length does not use:
    /// cheap for variable headers and property sections, and it keeps one code path for sizing and writing.
    package mutating func writeMQTTLengthPrefixed(
        trailingLength: Int = 0,
        _ body: (inout ByteBuffer) throws(MQTTProtocolError) -> Void
    ) throws(MQTTProtocolError) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let bodyStart = writerIndex
        try body(&self)
        let bodyLength = writerIndex - bodyStart
        let length = bodyLength + trailingLength
        guard length <= Self.mqttMaximumVariableByteInteger else {
            moveWriterIndex(to: lengthIndex)
            throw MQTTProtocolError(
                .packetTooLarge, "\(length) bytes exceed the largest length the protocol encodes (268,435,455)")
        }
        let lengthSize = setMQTTVariableByteInteger(length, at: lengthIndex)
        if lengthSize < 4 {
            // Cannot fail: the source lies between the reader and writer indices.
            _ = try? copyBytes(at: bodyStart, to: lengthIndex + lengthSize, length: bodyLength)
            moveWriterIndex(to: lengthIndex + lengthSize + bodyLength)
        }
    }
}

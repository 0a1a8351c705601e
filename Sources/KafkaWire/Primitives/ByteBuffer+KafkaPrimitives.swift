import NIOCore

// Kafka's primitive types (protocol.html, "Protocol Primitive Types"): big-endian fixed-width integers,
// zig-zag varints, unsigned varints, classic (int16/int32 length) and compact (unsigned varint length + 1)
// strings, bytes and arrays, UUIDs and tagged-field sections.

extension ByteBuffer {
    // MARK: Fixed width

    @inlinable
    public mutating func readKafkaInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(KafkaWireError) -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else {
            throw KafkaWireError(
                .truncated, "expected a \(MemoryLayout<T>.size)-byte integer, \(readableBytes) bytes left")
        }
        return value
    }

    @inlinable
    public mutating func writeKafkaInteger<T: FixedWidthInteger>(_ value: T) {
        writeInteger(value, endianness: .big)
    }

    @inlinable
    public mutating func readKafkaBool() throws(KafkaWireError) -> Bool {
        let byte: UInt8 = try readKafkaInteger()
        return byte != 0
    }

    @inlinable
    public mutating func writeKafkaBool(_ value: Bool) {
        writeInteger(value ? 1 : 0, as: UInt8.self)
    }

    @inlinable
    public mutating func readKafkaFloat64() throws(KafkaWireError) -> Double {
        Double(bitPattern: try readKafkaInteger(as: UInt64.self))
    }

    @inlinable
    public mutating func writeKafkaFloat64(_ value: Double) {
        writeInteger(value.bitPattern, endianness: .big)
    }

    public mutating func readKafkaUUID() throws(KafkaWireError) -> KafkaUUID {
        let high: UInt64 = try readKafkaInteger()
        let low: UInt64 = try readKafkaInteger()
        return KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
    }

    public mutating func writeKafkaUUID(_ value: KafkaUUID) {
        writeInteger(value.mostSignificantBits, endianness: .big)
        writeInteger(value.leastSignificantBits, endianness: .big)
    }

    // MARK: Varints

    /// An unsigned LEB128 varint of at most 5 bytes.
    @inlinable
    public mutating func readUnsignedVarint() throws(KafkaWireError) -> UInt32 {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else {
                throw KafkaWireError(.truncated, "unsigned varint ended early")
            }
            if shift == 28 && byte > 0x0F {
                throw KafkaWireError(.invalidVarint, "unsigned varint longer than 32 bits")
            }
            result |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    @inlinable
    public mutating func readUnsignedVarlong() throws(KafkaWireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else {
                throw KafkaWireError(.truncated, "varlong ended early")
            }
            if shift == 63 && byte > 0x01 {
                throw KafkaWireError(.invalidVarint, "varlong longer than 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    @inlinable
    @discardableResult
    public mutating func writeUnsignedVarint(_ value: UInt32) -> Int {
        writeUnsignedVarlong(UInt64(value))
    }

    @inlinable
    @discardableResult
    public mutating func writeUnsignedVarlong(_ value: UInt64) -> Int {
        var value = value
        var written = 0
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
            written += 1
        }
        writeInteger(UInt8(value))
        return written + 1
    }

    /// A zig-zag encoded signed varint (32 bits).
    @inlinable
    public mutating func readVarint() throws(KafkaWireError) -> Int32 {
        let raw = try readUnsignedVarint()
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zig-zag encoded signed varlong (64 bits).
    @inlinable
    public mutating func readVarlong() throws(KafkaWireError) -> Int64 {
        let raw = try readUnsignedVarlong()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    @inlinable
    @discardableResult
    public mutating func writeVarint(_ value: Int32) -> Int {
        writeUnsignedVarint(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    @inlinable
    @discardableResult
    public mutating func writeVarlong(_ value: Int64) -> Int {
        writeUnsignedVarlong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// The encoded size of a zig-zag varint, without writing it.
    @inlinable
    public static func varintSize(_ value: Int64) -> Int {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var size = 1
        while raw >= 0x80 {
            raw >>= 7
            size += 1
        }
        return size
    }

    // MARK: Lengths

    /// Reads a length prefix: int16/int32 in classic encoding, unsigned varint + 1 in compact encoding.
    /// Returns nil for null (-1, or 0 when compact).
    @inlinable
    mutating func readKafkaLength(compact: Bool, wide: Bool) throws(KafkaWireError) -> Int? {
        let length: Int
        if compact {
            length = Int(try readUnsignedVarint()) - 1
        } else if wide {
            length = Int(try readKafkaInteger(as: Int32.self))
        } else {
            length = Int(try readKafkaInteger(as: Int16.self))
        }
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaWireError(.invalidLength, "negative length \(length)") }
        return length
    }

    @inlinable
    mutating func writeKafkaLength(_ length: Int?, compact: Bool, wide: Bool) {
        if compact {
            writeUnsignedVarint(UInt32(truncatingIfNeeded: (length ?? -1) + 1))
        } else if wide {
            writeInteger(Int32(truncatingIfNeeded: length ?? -1), endianness: .big)
        } else {
            writeInteger(Int16(truncatingIfNeeded: length ?? -1), endianness: .big)
        }
    }

    // MARK: Strings

    @inlinable
    public mutating func readKafkaNullableString(compact: Bool) throws(KafkaWireError) -> String? {
        guard let length = try readKafkaLength(compact: compact, wide: false) else { return nil }
        guard length <= readableBytes else {
            throw KafkaWireError(.truncated, "string of \(length) bytes, \(readableBytes) bytes left")
        }
        guard let bytes = readSlice(length: length) else {
            throw KafkaWireError(.truncated, "string of \(length) bytes, \(readableBytes) bytes left")
        }
        // Validated rather than repaired: a string a peer sent as invalid UTF-8 is an error, not U+FFFD.
        guard let string = String(validating: bytes.readableBytesView, as: UTF8.self) else {
            throw KafkaWireError(.invalidString, "string is not UTF-8")
        }
        return string
    }

    @inlinable
    public mutating func readKafkaString(compact: Bool) throws(KafkaWireError) -> String {
        guard let string = try readKafkaNullableString(compact: compact) else {
            throw KafkaWireError(.unexpectedNull, "null where a string is required")
        }
        return string
    }

    @inlinable
    public mutating func writeKafkaString(_ value: String?, compact: Bool) throws(KafkaWireError) {
        guard let value else {
            writeKafkaLength(nil, compact: compact, wide: false)
            return
        }
        let length = value.utf8.count
        guard length <= Int(Int16.max) || compact else {
            throw KafkaWireError(.invalidLength, "string of \(length) bytes is longer than 32767")
        }
        writeKafkaLength(length, compact: compact, wide: false)
        writeString(value)
    }

    // MARK: Bytes

    /// Reads a bytes value as a slice of this buffer (no copy).
    @inlinable
    public mutating func readKafkaNullableBytes(compact: Bool) throws(KafkaWireError) -> ByteBuffer? {
        guard let length = try readKafkaLength(compact: compact, wide: true) else { return nil }
        guard let slice = readSlice(length: length) else {
            throw KafkaWireError(.truncated, "bytes of length \(length), \(readableBytes) bytes left")
        }
        return slice
    }

    @inlinable
    public mutating func readKafkaBytes(compact: Bool) throws(KafkaWireError) -> ByteBuffer {
        guard let bytes = try readKafkaNullableBytes(compact: compact) else {
            throw KafkaWireError(.unexpectedNull, "null where bytes are required")
        }
        return bytes
    }

    @inlinable
    public mutating func writeKafkaBytes(_ value: ByteBuffer?, compact: Bool) {
        guard let value else {
            writeKafkaLength(nil, compact: compact, wide: true)
            return
        }
        writeKafkaLength(value.readableBytes, compact: compact, wide: true)
        writeImmutableBuffer(value)
    }

    // MARK: Arrays

    /// Reads an array's element count; nil for a null array. A count larger than the bytes left is refused
    /// before anything is allocated, since every element takes at least one byte.
    @inlinable
    public mutating func readKafkaArrayCount(compact: Bool) throws(KafkaWireError) -> Int? {
        guard let count = try readKafkaLength(compact: compact, wide: true) else { return nil }
        guard count <= readableBytes else {
            throw KafkaWireError(.invalidLength, "array of \(count) elements in \(readableBytes) bytes")
        }
        return count
    }

    @inlinable
    public mutating func writeKafkaArrayCount(_ count: Int?, compact: Bool) {
        writeKafkaLength(count, compact: compact, wide: true)
    }

    // MARK: Tagged fields

    /// Reads a tagged-field section, handing each known tag's bytes to `body` and skipping unknown ones.
    /// `body` returns false for a tag it does not know.
    @inlinable
    public mutating func readKafkaTaggedFields(
        _ body: (UInt32, inout ByteBuffer) throws(KafkaWireError) -> Bool
    ) throws(KafkaWireError) {
        let count = try readUnsignedVarint()
        guard count <= readableBytes else {
            throw KafkaWireError(.invalidLength, "\(count) tagged fields in \(readableBytes) bytes")
        }
        var previous: Int64 = -1
        for _ in 0..<count {
            let tag = try readUnsignedVarint()
            guard Int64(tag) > previous else {
                throw KafkaWireError(.invalidLength, "tagged field \(tag) out of order")
            }
            previous = Int64(tag)
            let size = Int(try readUnsignedVarint())
            guard var field = readSlice(length: size) else {
                throw KafkaWireError(.truncated, "tagged field \(tag) of \(size) bytes, \(readableBytes) left")
            }
            _ = try body(tag, &field)
        }
    }

    /// Skips a tagged-field section.
    @inlinable
    public mutating func skipKafkaTaggedFields() throws(KafkaWireError) {
        try readKafkaTaggedFields { _, _ throws(KafkaWireError) in false }
    }

    /// Writes one tagged field: tag, size, then the bytes `body` writes.
    @inlinable
    public mutating func writeKafkaTaggedField(
        tag: UInt32,
        _ body: (inout ByteBuffer) throws(KafkaWireError) -> Void
    ) throws(KafkaWireError) {
        var field = ByteBuffer()
        try body(&field)
        writeUnsignedVarint(tag)
        writeUnsignedVarint(UInt32(field.readableBytes))
        writeBuffer(&field)
    }
}

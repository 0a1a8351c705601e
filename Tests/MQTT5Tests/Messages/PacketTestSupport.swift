import MQTT5
import NIOCore
import Testing

/// The bytes `packet` encodes to.
func encode(_ packet: MQTTPacket) throws -> [UInt8] {
    var buffer = ByteBuffer()
    try packet.write(into: &buffer)
    return Array(buffer.readableBytesView)
}

/// Decodes exactly one whole packet from `bytes`, requiring every byte to be used.
func decode(_ bytes: [UInt8]) throws -> MQTTPacket {
    var buffer = ByteBuffer(bytes: bytes)
    let packet = try #require(try MQTTPacket.read(from: &buffer), "incomplete packet: \(hex(bytes))")
    #expect(buffer.readableBytes == 0, "\(buffer.readableBytes) bytes left after the packet")
    return packet
}

/// The error decoding `bytes` as one packet gives, or nil (with an issue recorded) when it decodes.
func decodeError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> MQTTProtocolError? {
    var buffer = ByteBuffer(bytes: bytes)
    do {
        let packet = try MQTTPacket.read(from: &buffer)
        Issue.record("decoded \(String(describing: packet)) from \(hex(bytes))", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// The error writing `packet` gives, or nil (with an issue recorded) when it writes.
func encodeError(_ packet: MQTTPacket, sourceLocation: SourceLocation = #_sourceLocation) -> MQTTProtocolError? {
    var buffer = ByteBuffer(bytes: [0xAA])
    do {
        try packet.write(into: &buffer)
        Issue.record("wrote \(hex(Array(buffer.readableBytesView)))", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(Array(buffer.readableBytesView) == [0xAA], "a failed write leaves nothing behind")
        return error
    }
}

/// Checks that `packet` encodes to `expected` and that `expected` decodes to `packet`.
func expectKnownBytes(
    _ packet: MQTTPacket,
    _ expected: [UInt8],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let encoded = try encode(packet)
    #expect(hex(encoded) == hex(expected), "encoding", sourceLocation: sourceLocation)
    #expect(try decode(expected) == packet, "decoding", sourceLocation: sourceLocation)
}

/// A malformed or forbidden packet, the error decoding it must give, and the Reason Code the receiver then sends.
struct MalformedCase: CustomTestStringConvertible, Sendable {
    var name: String
    var hex: String
    var code: MQTTProtocolError.Code
    var reason: MQTTReasonCode

    init(_ name: String, _ hex: String, _ code: MQTTProtocolError.Code, _ reason: MQTTReasonCode) {
        self.name = name
        self.hex = hex
        self.code = code
        self.reason = reason
    }

    var testDescription: String { name }

    func check(sourceLocation: SourceLocation = #_sourceLocation) {
        let error = decodeError(wire(hex), sourceLocation: sourceLocation)
        #expect(error?.code == code, "\(name): \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.disconnectReason == reason, "\(name)", sourceLocation: sourceLocation)
        // The decoder gives the same error, and it names the packet type.
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer(bytes: wire(hex))
        do {
            _ = try decoder.decode(buffer: &buffer)
            Issue.record("the decoder accepted \(name)", sourceLocation: sourceLocation)
        } catch let error as MQTTProtocolError {
            #expect(error.code == code, "\(name) via the decoder", sourceLocation: sourceLocation)
            if code != .invalidPacketType {
                #expect(error.packetType != nil, "\(name) names its packet type", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
        #expect(buffer.readableBytes == wire(hex).count, "nothing consumed", sourceLocation: sourceLocation)
    }
}

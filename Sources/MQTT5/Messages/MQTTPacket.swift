import NIOCore

/// Any MQTT 5.0 Control Packet.
public enum MQTTPacket: Hashable, Sendable {
    case connect(MQTTConnectPacket)
    case connAck(MQTTConnAckPacket)
    case publish(MQTTPublishPacket)
    case pubAck(MQTTPubAckPacket)
    case pubRec(MQTTPubRecPacket)
    case pubRel(MQTTPubRelPacket)
    case pubComp(MQTTPubCompPacket)
    case subscribe(MQTTSubscribePacket)
    case subAck(MQTTSubAckPacket)
    case unsubscribe(MQTTUnsubscribePacket)
    case unsubAck(MQTTUnsubAckPacket)
    /// PINGREQ (3.12): no variable header, no payload.
    case pingReq
    /// PINGRESP (3.13): no variable header, no payload.
    case pingResp
    case disconnect(MQTTDisconnectPacket)
    case auth(MQTTAuthPacket)

    public var type: MQTTPacketType {
        switch self {
        case .connect: .connect
        case .connAck: .connAck
        case .publish: .publish
        case .pubAck: .pubAck
        case .pubRec: .pubRec
        case .pubRel: .pubRel
        case .pubComp: .pubComp
        case .subscribe: .subscribe
        case .subAck: .subAck
        case .unsubscribe: .unsubscribe
        case .unsubAck: .unsubAck
        case .pingReq: .pingReq
        case .pingResp: .pingResp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length; `body`
    /// moves past the packet only on success.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        switch fixedHeader.type {
        case .connect: self = .connect(try MQTTConnectPacket(fixedHeader: fixedHeader, body: &body))
        case .connAck: self = .connAck(try MQTTConnAckPacket(fixedHeader: fixedHeader, body: &body))
        case .publish: self = .publish(try MQTTPublishPacket(fixedHeader: fixedHeader, body: &body))
        case .pubAck: self = .pubAck(try MQTTPubAckPacket(fixedHeader: fixedHeader, body: &body))
        case .pubRec: self = .pubRec(try MQTTPubRecPacket(fixedHeader: fixedHeader, body: &body))
        case .pubRel: self = .pubRel(try MQTTPubRelPacket(fixedHeader: fixedHeader, body: &body))
        case .pubComp: self = .pubComp(try MQTTPubCompPacket(fixedHeader: fixedHeader, body: &body))
        case .subscribe: self = .subscribe(try MQTTSubscribePacket(fixedHeader: fixedHeader, body: &body))
        case .subAck: self = .subAck(try MQTTSubAckPacket(fixedHeader: fixedHeader, body: &body))
        case .unsubscribe: self = .unsubscribe(try MQTTUnsubscribePacket(fixedHeader: fixedHeader, body: &body))
        case .unsubAck: self = .unsubAck(try MQTTUnsubAckPacket(fixedHeader: fixedHeader, body: &body))
        case .pingReq, .pingResp:
            let type = fixedHeader.type
            try fixedHeader.readBody(from: &body, as: type) { (_) throws(MQTTProtocolError) in }
            self = type == .pingReq ? .pingReq : .pingResp
        case .disconnect: self = .disconnect(try MQTTDisconnectPacket(fixedHeader: fixedHeader, body: &body))
        case .auth: self = .auth(try MQTTAuthPacket(fixedHeader: fixedHeader, body: &body))
        }
    }

    /// Reads one whole packet from the start of `buffer` if all of it has arrived, moving past it; returns nil,
    /// consuming nothing, while it has not. Throws as soon as the bytes seen cannot be a valid packet.
    public static func read(from buffer: inout ByteBuffer) throws(MQTTProtocolError) -> MQTTPacket? {
        guard let fixedHeader = try MQTTFixedHeader.peek(in: buffer),
            buffer.readableBytes >= fixedHeader.packetSize
        else { return nil }
        var rest = buffer.getSlice(
            at: buffer.readerIndex + fixedHeader.encodedSize, length: fixedHeader.remainingLength)!
        let packet = try MQTTPacket(fixedHeader: fixedHeader, body: &rest)
        buffer.moveReaderIndex(forwardBy: fixedHeader.packetSize)
        return packet
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        switch self {
        case .connect(let packet): try packet.write(into: &buffer)
        case .connAck(let packet): try packet.write(into: &buffer)
        case .publish(let packet): try packet.write(into: &buffer)
        case .pubAck(let packet): try packet.write(into: &buffer)
        case .pubRec(let packet): try packet.write(into: &buffer)
        case .pubRel(let packet): try packet.write(into: &buffer)
        case .pubComp(let packet): try packet.write(into: &buffer)
        case .subscribe(let packet): try packet.write(into: &buffer)
        case .subAck(let packet): try packet.write(into: &buffer)
        case .unsubscribe(let packet): try packet.write(into: &buffer)
        case .unsubAck(let packet): try packet.write(into: &buffer)
        case .pingReq: try buffer.writeMQTTPacket(.pingReq) { (_) throws(MQTTProtocolError) in }
        case .pingResp: try buffer.writeMQTTPacket(.pingResp) { (_) throws(MQTTProtocolError) in }
        case .disconnect(let packet): try packet.write(into: &buffer)
        case .auth(let packet): try packet.write(into: &buffer)
        }
    }

    /// The properties of packets that have them; nil for PINGREQ and PINGRESP.
    public var properties: MQTTProperties? {
        switch self {
        case .connect(let packet): packet.properties
        case .connAck(let packet): packet.properties
        case .publish(let packet): packet.properties
        case .pubAck(let packet): packet.properties
        case .pubRec(let packet): packet.properties
        case .pubRel(let packet): packet.properties
        case .pubComp(let packet): packet.properties
        case .subscribe(let packet): packet.properties
        case .subAck(let packet): packet.properties
        case .unsubscribe(let packet): packet.properties
        case .unsubAck(let packet): packet.properties
        case .pingReq, .pingResp: nil
        case .disconnect(let packet): packet.properties
        case .auth(let packet): packet.properties
        }
    }

    /// This packet with `properties` replaced; PINGREQ and PINGRESP are returned unchanged.
    public func replacingProperties(with properties: MQTTProperties) -> MQTTPacket {
        switch self {
        case .connect(var packet): packet.properties = properties; return .connect(packet)
        case .connAck(var packet): packet.properties = properties; return .connAck(packet)
        case .publish(var packet): packet.properties = properties; return .publish(packet)
        case .pubAck(var packet): packet.properties = properties; return .pubAck(packet)
        case .pubRec(var packet): packet.properties = properties; return .pubRec(packet)
        case .pubRel(var packet): packet.properties = properties; return .pubRel(packet)
        case .pubComp(var packet): packet.properties = properties; return .pubComp(packet)
        case .subscribe(var packet): packet.properties = properties; return .subscribe(packet)
        case .subAck(var packet): packet.properties = properties; return .subAck(packet)
        case .unsubscribe(var packet): packet.properties = properties; return .unsubscribe(packet)
        case .unsubAck(var packet): packet.properties = properties; return .unsubAck(packet)
        case .pingReq, .pingResp: return self
        case .disconnect(var packet): packet.properties = properties; return .disconnect(packet)
        case .auth(var packet): packet.properties = properties; return .auth(packet)
        }
    }
}

extension MQTTProtocolError {
    /// The Reason Code a client's DISCONNECT carries for this error: `disconnectReason` when table 3-10 lets a
    /// client send it, else Protocol Error. (Topic Filter invalid is a server's code, and Unsupported Protocol
    /// Version belongs in a CONNACK.)
    var clientDisconnectReason: MQTTReasonCode {
        let reason = disconnectReason
        return MQTTReasonCode.clientDisconnectCodes.contains(reason.rawValue) ? reason : .protocolError
    }
}

extension MQTTReasonCode {
    /// The DISCONNECT Reason Codes table 3-10 lists as sent by a client.
    static let clientDisconnectCodes: Set<UInt8> = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
    ]
}

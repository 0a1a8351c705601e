import MQTT5
import Testing

@Suite struct MQTTProtocolErrorTests {
    static let expectedReasons: [(MQTTProtocolError.Code, MQTTReasonCode)] = [
        (.truncated, .malformedPacket),
        (.trailingBytes, .malformedPacket),
        (.invalidVariableByteInteger, .malformedPacket),
        (.invalidString, .malformedPacket),
        (.invalidFlags, .malformedPacket),
        (.invalidQoS, .malformedPacket),
        (.invalidPacketType, .malformedPacket),
        (.unknownProperty, .malformedPacket),
        (.propertyNotAllowed, .malformedPacket),
        (.valueTooLarge, .malformedPacket),
        (.duplicateProperty, .protocolError),
        (.invalidPropertyValue, .protocolError),
        (.missingProperty, .protocolError),
        (.invalidReasonCode, .protocolError),
        (.invalidPacketIdentifier, .protocolError),
        (.invalidSubscriptionOptions, .protocolError),
        (.missingPayload, .protocolError),
        (.missingTopicName, .protocolError),
        (.inconsistentFields, .protocolError),
        (.invalidTopicAlias, .topicAliasInvalid),
        (.receiveMaximumExceeded, .receiveMaximumExceeded),
        (.invalidTopicName, .topicNameInvalid),
        (.invalidTopicFilter, .topicFilterInvalid),
        (.packetTooLarge, .packetTooLarge),
        (.unsupportedProtocolVersion, .unsupportedProtocolVersion),
    ]

    @Test func everyCodeMapsToTheReasonCodeTheSpecPrescribes() {
        #expect(Self.expectedReasons.count == MQTTProtocolError.Code.allCases.count)
        for (code, reason) in Self.expectedReasons {
            #expect(MQTTProtocolError(code, "").disconnectReason == reason, "\(code)")
        }
    }

    @Test func everyReasonCanBeSentInTheRightPacket() {
        for code in MQTTProtocolError.Code.allCases {
            let reason = code.disconnectReason
            if code == .unsupportedProtocolVersion {
                // Only met in a CONNECT, and answered with a CONNACK.
                #expect(reason.isAllowed(in: .connAck))
                #expect(!reason.isAllowed(in: .disconnect))
            } else {
                #expect(reason.isAllowed(in: .disconnect), "\(code) -> \(reason)")
                #expect(reason.isFailure)
            }
        }
    }

    @Test func theDescriptionNamesCodePacketAndDetail() {
        let error = MQTTProtocolError(.duplicateProperty, "Topic Alias twice", packetType: .publish)
        #expect(error.description == "duplicateProperty in PUBLISH: Topic Alias twice")
        #expect(MQTTProtocolError(.truncated, "x").description == "truncated: x")
    }
}

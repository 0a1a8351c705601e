import MQTT5
import NIOCore
import Testing

@Suite struct MQTTPropertiesTests {
    /// One value of each property and its bytes, identifier first, from table 2-4 and the type sections of 1.5.
    static let knownProperties: [(MQTTPropertyIdentifier, String, @Sendable (inout MQTTProperties) -> Void)] = [
        (.payloadFormatIndicator, "01 01", { $0.payloadFormatIndicator = .utf8 }),
        (.messageExpiryInterval, "02 00 00 0e 10", { $0.messageExpiryInterval = 3600 }),
        (.contentType, "03 00 03 61 2f 62", { $0.contentType = "a/b" }),
        (.responseTopic, "08 00 01 72", { $0.responseTopic = "r" }),
        (.correlationData, "09 00 02 01 02", { $0.correlationData = ByteBuffer(bytes: [1, 2]) }),
        (.subscriptionIdentifier, "0b 80 01", { $0.subscriptionIdentifiers = [128] }),
        (.sessionExpiryInterval, "11 ff ff ff ff", { $0.sessionExpiryInterval = 0xFFFF_FFFF }),
        (.assignedClientIdentifier, "12 00 02 69 64", { $0.assignedClientIdentifier = "id" }),
        (.serverKeepAlive, "13 00 1e", { $0.serverKeepAlive = 30 }),
        (.authenticationMethod, "15 00 01 6d", { $0.authenticationMethod = "m" }),
        (.authenticationData, "16 00 01 ab", { $0.authenticationData = ByteBuffer(bytes: [0xAB]) }),
        (.requestProblemInformation, "17 00", { $0.requestProblemInformation = false }),
        (.willDelayInterval, "18 00 00 00 05", { $0.willDelayInterval = 5 }),
        (.requestResponseInformation, "19 01", { $0.requestResponseInformation = true }),
        (.responseInformation, "1a 00 02 72 69", { $0.responseInformation = "ri" }),
        (.serverReference, "1c 00 01 73", { $0.serverReference = "s" }),
        (.reasonString, "1f 00 02 6f 6b", { $0.reasonString = "ok" }),
        (.receiveMaximum, "21 00 0a", { $0.receiveMaximum = 10 }),
        (.topicAliasMaximum, "22 00 05", { $0.topicAliasMaximum = 5 }),
        (.topicAlias, "23 00 01", { $0.topicAlias = 1 }),
        (.maximumQoS, "24 00", { $0.maximumQoS = .atMostOnce }),
        (.retainAvailable, "25 00", { $0.retainAvailable = false }),
        (.userProperty, "26 00 01 61 00 01 62", { $0.userProperties = [MQTTUserProperty(name: "a", value: "b")] }),
        (.maximumPacketSize, "27 00 00 04 00", { $0.maximumPacketSize = 1024 }),
        (.wildcardSubscriptionAvailable, "28 01", { $0.wildcardSubscriptionAvailable = true }),
        (.subscriptionIdentifiersAvailable, "29 00", { $0.subscriptionIdentifiersAvailable = false }),
        (.sharedSubscriptionAvailable, "2a 01", { $0.sharedSubscriptionAvailable = true }),
    ]

    /// Table 2-4, written out again by hand: where each property may appear.
    static let allowedIn: [MQTTPropertyIdentifier: Set<MQTTPropertyContext>] = [
        .payloadFormatIndicator: [.publish, .will],
        .messageExpiryInterval: [.publish, .will],
        .contentType: [.publish, .will],
        .responseTopic: [.publish, .will],
        .correlationData: [.publish, .will],
        .subscriptionIdentifier: [.publish, .subscribe],
        .sessionExpiryInterval: [.connect, .connAck, .disconnect],
        .assignedClientIdentifier: [.connAck],
        .serverKeepAlive: [.connAck],
        .authenticationMethod: [.connect, .connAck, .auth],
        .authenticationData: [.connect, .connAck, .auth],
        .requestProblemInformation: [.connect],
        .willDelayInterval: [.will],
        .requestResponseInformation: [.connect],
        .responseInformation: [.connAck],
        .serverReference: [.connAck, .disconnect],
        .reasonString: [.connAck, .pubAck, .pubRec, .pubRel, .pubComp, .subAck, .unsubAck, .disconnect, .auth],
        .receiveMaximum: [.connect, .connAck],
        .topicAliasMaximum: [.connect, .connAck],
        .topicAlias: [.publish],
        .maximumQoS: [.connAck],
        .retainAvailable: [.connAck],
        .userProperty: [
            .connect, .connAck, .publish, .will, .pubAck, .pubRec, .pubRel, .pubComp, .subscribe, .subAck,
            .unsubscribe, .unsubAck, .disconnect, .auth,
        ],
        .maximumPacketSize: [.connect, .connAck],
        .wildcardSubscriptionAvailable: [.connAck],
        .subscriptionIdentifiersAvailable: [.connAck],
        .sharedSubscriptionAvailable: [.connAck],
    ]

    private func read(_ section: [UInt8], in context: MQTTPropertyContext) throws -> MQTTProperties {
        var buffer = ByteBuffer(bytes: section)
        let properties = try MQTTProperties.read(from: &buffer, context: context)
        #expect(buffer.readableBytes == 0)
        return properties
    }

    /// A property section: the Property Length, then `properties`.
    private func section(_ properties: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        _ = try? buffer.writeMQTTVariableByteInteger(properties.count)
        return Array(buffer.readableBytesView) + properties
    }

    @Test func everyDefinedPropertyIsCovered() {
        #expect(Self.knownProperties.map(\.0) == MQTTPropertyIdentifier.allCases)
        #expect(Set(Self.allowedIn.keys) == Set(MQTTPropertyIdentifier.allCases))
    }

    @Test func eachPropertyHasItsKnownBytes() throws {
        for (identifier, encoded, set) in Self.knownProperties {
            var properties = MQTTProperties()
            set(&properties)
            #expect(properties.presentIdentifiers == [identifier])
            let context = Self.allowedIn[identifier]!.first!
            var buffer = ByteBuffer()
            try properties.write(into: &buffer, context: context)
            #expect(hex(Array(buffer.readableBytesView)) == hex(section(bytes(encoded))), "\(identifier)")
            #expect(try read(section(bytes(encoded)), in: context) == properties, "\(identifier)")
        }
    }

    @Test func eachPropertyIsAcceptedExactlyWhereTable2_4AllowsIt() throws {
        for (identifier, encoded, set) in Self.knownProperties {
            var properties = MQTTProperties()
            set(&properties)
            #expect(identifier.allowedContexts == Self.allowedIn[identifier], "\(identifier)")
            for context in MQTTPropertyContext.allCases {
                var buffer = ByteBuffer()
                if Self.allowedIn[identifier]!.contains(context) {
                    #expect(try read(section(bytes(encoded)), in: context) == properties)
                    try properties.write(into: &buffer, context: context)
                } else {
                    expectError(.propertyNotAllowed, "\(identifier) in \(context)") {
                        _ = try read(section(bytes(encoded)), in: context)
                    }
                    expectError(.propertyNotAllowed, "writing \(identifier) in \(context)") {
                        try properties.write(into: &buffer, context: context)
                    }
                    #expect(MQTTProtocolError(.propertyNotAllowed, "").disconnectReason == .malformedPacket)
                }
            }
        }
    }

    @Test func aPropertyThatMayAppearOnceIsRefusedTwice() throws {
        for (identifier, encoded, _) in Self.knownProperties {
            for context in Self.allowedIn[identifier]! {
                let twice = section(bytes(encoded) + bytes(encoded))
                if identifier == .userProperty || (identifier == .subscriptionIdentifier && context == .publish) {
                    _ = try read(twice, in: context)
                } else {
                    expectError(.duplicateProperty, "\(identifier) in \(context)") { _ = try read(twice, in: context) }
                }
            }
        }
        #expect(MQTTProtocolError(.duplicateProperty, "").disconnectReason == .protocolError)
    }

    @Test func repeatedPropertiesKeepTheirOrder() throws {
        let properties = try read(
            section(bytes("26 00 01 6b 00 01 32 | 0b 05 | 26 00 01 6b 00 01 31 | 0b 03 | 26 00 01 61 00 00")),
            in: .publish)
        #expect(
            properties.userProperties == [
                MQTTUserProperty(name: "k", value: "2"), MQTTUserProperty(name: "k", value: "1"),
                MQTTUserProperty(name: "a", value: ""),
            ])
        #expect(properties.subscriptionIdentifiers == [5, 3])
    }

    static let outOfRange: [(String, MQTTPropertyContext, MQTTProtocolError.Code)] = [
        ("21 00 00", .connect, .invalidPropertyValue),  // Receive Maximum 0
        ("27 00 00 00 00", .connAck, .invalidPropertyValue),  // Maximum Packet Size 0
        ("0b 00", .subscribe, .invalidPropertyValue),  // Subscription Identifier 0
        ("23 00 00", .publish, .invalidTopicAlias),  // Topic Alias 0
        ("24 02", .connAck, .invalidPropertyValue),  // Maximum QoS 2
        ("01 02", .publish, .invalidPropertyValue),  // Payload Format Indicator 2
        ("17 02", .connect, .invalidPropertyValue),
        ("19 ff", .connect, .invalidPropertyValue),
        ("25 02", .connAck, .invalidPropertyValue),
        ("28 02", .connAck, .invalidPropertyValue),
        ("29 02", .connAck, .invalidPropertyValue),
        ("2a 02", .connAck, .invalidPropertyValue),
        ("08 00 03 61 2f 23", .publish, .invalidTopicName),  // Response Topic "a/#"
        ("08 00 01 2b", .will, .invalidTopicName),  // Response Topic "+"
    ]

    @Test(arguments: outOfRange)
    func valuesOutOfRangeAreRefused(encoded: String, context: MQTTPropertyContext, code: MQTTProtocolError.Code) {
        expectError(code, "\(encoded)") { _ = try read(section(bytes(encoded)), in: context) }
    }

    @Test(arguments: ["00 00", "04 00", "2b 00", "7f", "80 01", "ff 7f"])
    func unknownIdentifiersAreMalformed(encoded: String) {
        expectError(.unknownProperty, "\(encoded)") { _ = try read(section(bytes(encoded)), in: .connAck) }
        #expect(MQTTProtocolError(.unknownProperty, "").disconnectReason == .malformedPacket)
    }

    @Test func anIdentifierEncodedInTooManyBytesIsMalformed() {
        expectError(.invalidVariableByteInteger) {
            _ = try read(section(bytes("a6 00 00 01 61 00 01 62")), in: .pubAck)
        }
    }

    @Test func aPropertyLengthPastTheBytesOrAValuePastThePropertyLengthIsTruncated() {
        // Property Length 5, three bytes follow.
        expectError(.truncated) { _ = try read(bytes("05 13 00 1e"), in: .connAck) }
        // Property Length 2 ends inside the Server Keep Alive's value, though the bytes go on.
        var buffer = ByteBuffer(bytes: bytes("02 13 00 1e"))
        expectError(.truncated) { _ = try MQTTProperties.read(from: &buffer, context: .connAck) }
        // A string value cut short.
        expectError(.truncated) { _ = try read(bytes("04 1f 00 05 61"), in: .pubAck) }
    }

    @Test func valuesThatCannotBeSentAreRefusedWhenWritten() {
        var buffer = ByteBuffer()
        var properties = MQTTProperties()
        properties.subscriptionIdentifiers = [1, 2]
        expectError(.duplicateProperty) { try properties.write(into: &buffer, context: .subscribe) }
        properties.subscriptionIdentifiers = [0]
        expectError(.invalidPropertyValue) { try properties.write(into: &buffer, context: .publish) }
        properties.subscriptionIdentifiers = [268_435_456]
        expectError(.valueTooLarge) { try properties.write(into: &buffer, context: .publish) }
        properties = MQTTProperties()
        properties.receiveMaximum = 0
        expectError(.invalidPropertyValue) { try properties.write(into: &buffer, context: .connect) }
        properties = MQTTProperties()
        properties.maximumQoS = .exactlyOnce
        expectError(.invalidPropertyValue) { try properties.write(into: &buffer, context: .connAck) }
        properties = MQTTProperties()
        properties.topicAlias = 0
        expectError(.invalidTopicAlias) { try properties.write(into: &buffer, context: .publish) }
        properties = MQTTProperties()
        properties.responseTopic = "a/+"
        expectError(.invalidTopicName) { try properties.write(into: &buffer, context: .publish) }
        properties = MQTTProperties()
        properties.userProperties = [MQTTUserProperty(name: "a\u{0}", value: "")]
        expectError(.invalidString) { try properties.write(into: &buffer, context: .publish) }
    }

    @Test(arguments: MQTTPropertyContext.allCases)
    func everyAllowedPropertyRoundTrips(context: MQTTPropertyContext) throws {
        let properties = Samples.allProperties(for: context)
        #expect(
            Set(properties.presentIdentifiers)
                == Set(MQTTPropertyIdentifier.allCases.filter { $0.isAllowed(in: context) }))
        var buffer = ByteBuffer()
        try properties.write(into: &buffer, context: context)
        let written = Array(buffer.readableBytesView)
        #expect(try MQTTProperties.read(from: &buffer, context: context) == properties)
        #expect(buffer.readableBytes == 0)
        // Written in identifier order, so equal properties always give equal bytes.
        var again = ByteBuffer()
        try properties.write(into: &again, context: context)
        #expect(Array(again.readableBytesView) == written)
    }

    @Test func diagnosticsCanBeDropped() {
        var properties = Samples.allProperties(for: .disconnect)
        properties = properties.withoutDiagnostics
        #expect(properties.reasonString == nil)
        #expect(properties.userProperties.isEmpty)
        #expect(properties.serverReference != nil)
        #expect(MQTTProperties().isEmpty)
    }

    @Test func aChangedCopyLeavesTheOriginalAlone() {
        var original = MQTTProperties()
        original.contentType = "a"
        var copy = original
        copy.contentType = "b"
        copy.subscriptionIdentifiers.append(7)
        #expect(original.contentType == "a")
        #expect(original.subscriptionIdentifiers == [])
        #expect(copy.contentType == "b")
        #expect(copy.subscriptionIdentifiers == [7])
    }

    @Test func propertiesSetAndClearedAgainEqualNone() {
        var properties = MQTTProperties()
        properties.topicAlias = 3
        #expect(properties != MQTTProperties())
        #expect(!properties.isEmpty)
        properties.topicAlias = nil
        #expect(properties == MQTTProperties())
        #expect(properties.hashValue == MQTTProperties().hashValue)
        #expect(properties.isEmpty)
    }

}

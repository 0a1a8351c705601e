import NIOCore

// Reading and writing a property section: a Property Length (Variable Byte Integer) and the properties it covers,
// each an identifier (Variable Byte Integer) and a value of the type table 2-4 gives it.

extension MQTTProperties {
    /// Reads a Property Length and the properties it covers, refusing unknown identifiers, properties not allowed
    /// in `context`, repeats of properties that may appear once, and values out of range.
    package static func read(
        from buffer: inout ByteBuffer,
        context: MQTTPropertyContext
    ) throws(MQTTProtocolError) -> MQTTProperties {
        let length = try buffer.readMQTTVariableByteInteger()
        guard var section = buffer.readSlice(length: length) else {
            throw MQTTProtocolError(
                .truncated, "Property Length \(length), \(buffer.readableBytes) bytes left in the packet")
        }
        var properties = MQTTProperties()
        // Identifiers are below 64: one bit each.
        var seen: UInt64 = 0
        while section.readableBytes > 0 {
            let rawIdentifier = try section.readMQTTVariableByteInteger()
            guard rawIdentifier <= Int(UInt8.max),
                let identifier = MQTTPropertyIdentifier(rawValue: UInt8(rawIdentifier))
            else {
                throw MQTTProtocolError(.unknownProperty, "property identifier \(rawIdentifier) is not defined")
            }
            guard identifier.isAllowed(in: context) else {
                throw MQTTProtocolError(.propertyNotAllowed, "\(identifier) is not allowed in \(context)")
            }
            let bit: UInt64 = 1 << UInt64(identifier.rawValue)
            defer { seen |= bit }
            guard seen & bit == 0 || identifier.mayRepeat(in: context) else {
                throw MQTTProtocolError(.duplicateProperty, "\(identifier) appears more than once in \(context)")
            }
            try properties.readValue(of: identifier, from: &section)
        }
        return properties
    }

    private mutating func readValue(
        of identifier: MQTTPropertyIdentifier,
        from buffer: inout ByteBuffer
    ) throws(MQTTProtocolError) {
        switch identifier {
        case .payloadFormatIndicator:
            let byte = try buffer.readMQTTByte()
            guard let value = MQTTPayloadFormatIndicator(rawValue: byte) else {
                throw MQTTProtocolError(.invalidPropertyValue, "\(identifier) of \(byte); it is 0 or 1")
            }
            payloadFormatIndicator = value
        case .messageExpiryInterval: messageExpiryInterval = try buffer.readMQTTFourByteInteger()
        case .contentType: contentType = try buffer.readMQTTString()
        case .responseTopic:
            let topic = try buffer.readMQTTString()
            try Self.validateResponseTopic(topic)
            responseTopic = topic
        case .correlationData: correlationData = try buffer.readMQTTBinary()
        case .subscriptionIdentifier:
            let value = try buffer.readMQTTVariableByteInteger()
            guard value != 0 else {
                throw MQTTProtocolError(.invalidPropertyValue, "\(identifier) of 0; it is 1 to 268,435,455")
            }
            appendSubscriptionIdentifier(value)
        case .sessionExpiryInterval: sessionExpiryInterval = try buffer.readMQTTFourByteInteger()
        case .assignedClientIdentifier: assignedClientIdentifier = try buffer.readMQTTString()
        case .serverKeepAlive: serverKeepAlive = try buffer.readMQTTTwoByteInteger()
        case .authenticationMethod: authenticationMethod = try buffer.readMQTTString()
        case .authenticationData: authenticationData = try buffer.readMQTTBinary()
        case .requestProblemInformation: requestProblemInformation = try Self.readBoolean(identifier, from: &buffer)
        case .willDelayInterval: willDelayInterval = try buffer.readMQTTFourByteInteger()
        case .requestResponseInformation:
            requestResponseInformation = try Self.readBoolean(identifier, from: &buffer)
        case .responseInformation: responseInformation = try buffer.readMQTTString()
        case .serverReference: serverReference = try buffer.readMQTTString()
        case .reasonString: reasonString = try buffer.readMQTTString()
        case .receiveMaximum: receiveMaximum = try Self.readNonZero(identifier, from: &buffer)
        case .topicAliasMaximum: topicAliasMaximum = try buffer.readMQTTTwoByteInteger()
        case .topicAlias:
            let value = try buffer.readMQTTTwoByteInteger()
            guard value != 0 else { throw MQTTProtocolError(.invalidTopicAlias, "a Topic Alias of 0 is not permitted") }
            topicAlias = value
        case .maximumQoS:
            let byte = try buffer.readMQTTByte()
            guard byte <= 1, let value = MQTTQoS(rawValue: byte) else {
                throw MQTTProtocolError(.invalidPropertyValue, "\(identifier) of \(byte); it is 0 or 1")
            }
            maximumQoS = value
        case .retainAvailable: retainAvailable = try Self.readBoolean(identifier, from: &buffer)
        case .userProperty:
            let name = try buffer.readMQTTString()
            let value = try buffer.readMQTTString()
            appendUserProperty(MQTTUserProperty(name: name, value: value))
        case .maximumPacketSize:
            let value = try buffer.readMQTTFourByteInteger()
            guard value != 0 else { throw MQTTProtocolError(.invalidPropertyValue, "\(identifier) of 0") }
            maximumPacketSize = value
        case .wildcardSubscriptionAvailable:
            wildcardSubscriptionAvailable = try Self.readBoolean(identifier, from: &buffer)
        case .subscriptionIdentifiersAvailable:
            subscriptionIdentifiersAvailable = try Self.readBoolean(identifier, from: &buffer)
        case .sharedSubscriptionAvailable:
            sharedSubscriptionAvailable = try Self.readBoolean(identifier, from: &buffer)
        }
    }

    private static func readBoolean(
        _ identifier: MQTTPropertyIdentifier,
        from buffer: inout ByteBuffer
    ) throws(MQTTProtocolError) -> Bool {
        let byte = try buffer.readMQTTByte()
        guard byte <= 1 else {
            throw MQTTProtocolError(.invalidPropertyValue, "\(identifier) of \(byte); it is 0 or 1")
        }
        return byte == 1
    }

    private static func readNonZero(
        _ identifier: MQTTPropertyIdentifier,
        from buffer: inout ByteBuffer
    ) throws(MQTTProtocolError) -> UInt16 {
        let value = try buffer.readMQTTTwoByteInteger()
        guard value != 0 else { throw MQTTProtocolError(.invalidPropertyValue, "\(identifier) of 0") }
        return value
    }

    /// "The Response Topic MUST NOT contain wildcard characters" (3.3.2.3.5).
    private static func validateResponseTopic(_ topic: String) throws(MQTTProtocolError) {
        if topic.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
            throw MQTTProtocolError(.invalidTopicName, "Response Topic '\(topic)' contains a wildcard")
        }
    }

    // MARK: Writing

    /// Checks that these properties may be sent in `context`: each is allowed there, appears no more often than
    /// allowed, and has a value in range.
    public func validate(in context: MQTTPropertyContext) throws(MQTTProtocolError) {
        if isEmptyExceptTopicAlias {
            if let topicAlias {
                // Topic Alias belongs to PUBLISH only (table 2-4); no set of contexts built per message.
                guard context == .publish else {
                    throw MQTTProtocolError(
                        .propertyNotAllowed, "\(MQTTPropertyIdentifier.topicAlias) is not allowed in \(context)")
                }
                if topicAlias == 0 {
                    throw MQTTProtocolError(.invalidTopicAlias, "a Topic Alias of 0 is not permitted")
                }
            }
            return
        }
        for identifier in Self.allIdentifiers where isPresent(identifier) && !identifier.isAllowed(in: context) {
            throw MQTTProtocolError(.propertyNotAllowed, "\(identifier) is not allowed in \(context)")
        }
        if subscriptionIdentifiers.count > 1 && !MQTTPropertyIdentifier.subscriptionIdentifier.mayRepeat(in: context) {
            throw MQTTProtocolError(
                .duplicateProperty, "\(subscriptionIdentifiers.count) Subscription Identifiers in \(context)")
        }
        for value in subscriptionIdentifiers
        where value < 1 || value > ByteBuffer.mqttMaximumVariableByteInteger {
            throw MQTTProtocolError(
                value < 1 ? .invalidPropertyValue : .valueTooLarge,
                "Subscription Identifier \(value); it is 1 to 268,435,455")
        }
        if receiveMaximum == 0 { throw MQTTProtocolError(.invalidPropertyValue, "a Receive Maximum of 0") }
        if maximumPacketSize == 0 { throw MQTTProtocolError(.invalidPropertyValue, "a Maximum Packet Size of 0") }
        if topicAlias == 0 { throw MQTTProtocolError(.invalidTopicAlias, "a Topic Alias of 0 is not permitted") }
        if let maximumQoS, maximumQoS > .atLeastOnce {
            throw MQTTProtocolError(.invalidPropertyValue, "a Maximum QoS of \(maximumQoS.rawValue); it is 0 or 1")
        }
        if let responseTopic { try Self.validateResponseTopic(responseTopic) }
    }

    /// Writes a Property Length and the properties, in identifier order (User Properties in their own order),
    /// after checking them with `validate(in:)`.
    package func write(into buffer: inout ByteBuffer, context: MQTTPropertyContext) throws(MQTTProtocolError) {
        try validate(in: context)
        if isEmptyExceptTopicAlias {
            if let topicAlias {
                buffer.writeMultipleIntegers(
                    UInt8(3), MQTTPropertyIdentifier.topicAlias.rawValue, topicAlias, endianness: .big)
            } else {
                buffer.writeInteger(UInt8(0))
            }
            return
        }
        try buffer.writeMQTTLengthPrefixed { (section: inout ByteBuffer) throws(MQTTProtocolError) in
            try writeValues(into: &section)
        }
    }

    private func writeValues(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        func identifier(_ identifier: MQTTPropertyIdentifier) { buffer.writeInteger(identifier.rawValue) }
        func boolean(_ value: Bool?, _ id: MQTTPropertyIdentifier) {
            guard let value else { return }
            identifier(id)
            buffer.writeInteger(UInt8(value ? 1 : 0))
        }
        func string(_ value: String?, _ id: MQTTPropertyIdentifier) throws(MQTTProtocolError) {
            guard let value else { return }
            identifier(id)
            try buffer.writeMQTTString(value)
        }
        func binary(_ value: ByteBuffer?, _ id: MQTTPropertyIdentifier) throws(MQTTProtocolError) {
            guard let value else { return }
            identifier(id)
            try buffer.writeMQTTBinary(value)
        }
        func integer<Value: FixedWidthInteger>(_ value: Value?, _ id: MQTTPropertyIdentifier) {
            guard let value else { return }
            identifier(id)
            buffer.writeInteger(value, endianness: .big)
        }

        if let payloadFormatIndicator {
            identifier(.payloadFormatIndicator)
            buffer.writeInteger(payloadFormatIndicator.rawValue)
        }
        integer(messageExpiryInterval, .messageExpiryInterval)
        try string(contentType, .contentType)
        try string(responseTopic, .responseTopic)
        try binary(correlationData, .correlationData)
        for value in subscriptionIdentifiers {
            identifier(.subscriptionIdentifier)
            try buffer.writeMQTTVariableByteInteger(value)
        }
        integer(sessionExpiryInterval, .sessionExpiryInterval)
        try string(assignedClientIdentifier, .assignedClientIdentifier)
        integer(serverKeepAlive, .serverKeepAlive)
        try string(authenticationMethod, .authenticationMethod)
        try binary(authenticationData, .authenticationData)
        boolean(requestProblemInformation, .requestProblemInformation)
        integer(willDelayInterval, .willDelayInterval)
        boolean(requestResponseInformation, .requestResponseInformation)
        try string(responseInformation, .responseInformation)
        try string(serverReference, .serverReference)
        try string(reasonString, .reasonString)
        integer(receiveMaximum, .receiveMaximum)
        integer(topicAliasMaximum, .topicAliasMaximum)
        integer(topicAlias, .topicAlias)
        if let maximumQoS {
            identifier(.maximumQoS)
            buffer.writeInteger(maximumQoS.rawValue)
        }
        boolean(retainAvailable, .retainAvailable)
        for property in userProperties {
            identifier(.userProperty)
            try buffer.writeMQTTString(property.name)
            try buffer.writeMQTTString(property.value)
        }
        integer(maximumPacketSize, .maximumPacketSize)
        boolean(wildcardSubscriptionAvailable, .wildcardSubscriptionAvailable)
        boolean(subscriptionIdentifiersAvailable, .subscriptionIdentifiersAvailable)
        boolean(sharedSubscriptionAvailable, .sharedSubscriptionAvailable)
    }
}

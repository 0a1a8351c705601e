import KafkaWire
import NIOCore
import Testing

/// Every version of every generated message type: the sample is written, read back and written again.
///
/// The samples come from `Generated/MessageSamples.swift` (regenerate with
/// `scripts/generate-kafka-message-samples.py`): each sets every field the schema gives `version` to a distinct
/// non-default value, so a field the codec drops, swaps or reads in the wrong version shows up as a difference.
@Suite struct MessageRoundTripTests {
    @Test(arguments: MessageCodecCase.all)
    func versionsMatchTheSchema(_ codec: MessageCodecCase) {
        #expect(codec.messageType.supportedVersions == codec.schemaVersions)
        #expect(codec.messageType.firstFlexibleVersion == codec.schemaFirstFlexibleVersion)
        for version in codec.schemaVersions {
            #expect(codec.messageType.isFlexible(version) == codec.schemaIsFlexible(version), "version \(version)")
        }
    }

    @Test(arguments: MessageCodecCase.all)
    func everyVersionRoundTripsToTheSameBytesAndValue(_ codec: MessageCodecCase) {
        roundTrip(codec.messageType)
    }

    /// The encoding of each sample is compared with the one `scripts/generate-kafka-message-samples.py` computes
    /// from the schema on its own (length and FNV-1a hash), so a field written in a version where the schema
    /// does not have it, or in the wrong encoding, is caught even though it would round-trip.
    @Test(arguments: MessageCodecCase.all)
    func everyVersionIsEncodedAsTheSchemaSays(_ codec: MessageCodecCase) {
        #expect(codec.expectedEncodings.count == 2 * codec.schemaVersions.count)
        for expected in codec.expectedEncodings {
            do {
                let encoding = try codec.sampleEncoding(version: expected.version, nulls: expected.nulls)
                #expect(
                    encoding.readableBytes == expected.length && fnv1a(encoding) == expected.fnv1a,
                    """
                    \(codec.name) v\(expected.version)\(expected.nulls ? " nulls" : ""): wrote \
                    \(encoding.readableBytes) bytes \(encoding.hexDump), expected \(expected.length) bytes; \
                    see scripts/generate-kafka-message-samples.py --dump \(codec.name) \(expected.version)\
                    \(expected.nulls ? " nulls" : "")
                    """
                )
            } catch {
                Issue.record("\(codec.name) v\(expected.version): \(error)")
            }
        }
    }

    @Test(arguments: MessageCodecCase.all)
    func versionsOutsideTheSupportedRangeAreRefused(_ codec: MessageCodecCase) {
        refuseUnsupportedVersions(codec.messageType)
    }

    @Test(arguments: MessageCodecCase.all.filter(\.isRequest))
    func requestFramesCarryTheHeaderTheSchemaAsksFor(_ codec: MessageCodecCase) {
        guard let requestType = codec.messageType as? any (SampledMessage & KafkaRequestMessage).Type else {
            Issue.record("\(codec.name) is not a request")
            return
        }
        requestFrames(requestType, codec)
    }

    @Test(arguments: MessageCodecCase.all.filter(\.isResponse))
    func responseFramesCarryTheHeaderTheSchemaAsksFor(_ codec: MessageCodecCase) {
        guard let responseType = codec.messageType as? any (SampledMessage & KafkaResponseMessage).Type else {
            Issue.record("\(codec.name) is not a response")
            return
        }
        responseFrames(responseType, codec)
    }

    // MARK: Generic checks, opened on each type

    private func roundTrip<Message: SampledMessage>(_: Message.Type) {
        for version in Message.supportedVersions {
            for nulls in [false, true] {
                let context = "\(Message.self) v\(version)\(nulls ? " nulls" : "")"
                do {
                    let sample = Message.sample(version: version, nulls: nulls)
                    var first = ByteBuffer()
                    try sample.write(into: &first, version: version)
                    var reader = first
                    let decoded = try Message(from: &reader, version: version)
                    #expect(reader.readableBytes == 0, "\(context): \(reader.readableBytes) bytes left unread")
                    var second = ByteBuffer()
                    try decoded.write(into: &second, version: version)
                    #expect(first == second, "\(context): \(first.hexDump) then \(second.hexDump)")
                    #expect(decoded == sample, "\(context): read back \(decoded), wrote \(sample)")
                } catch {
                    Issue.record("\(context): \(error)")
                }
            }
        }
    }

    private func refuseUnsupportedVersions<Message: SampledMessage>(_: Message.Type) {
        let sample = Message.sample(version: Message.supportedVersions.upperBound, nulls: false)
        for version in [Message.supportedVersions.lowerBound - 1, Message.supportedVersions.upperBound + 1] {
            var buffer = ByteBuffer()
            let writeError = expectWireError { () throws(KafkaWireError) in
                try sample.write(into: &buffer, version: version)
            }
            #expect(writeError?.code == .unsupportedVersion)
            #expect(buffer.readableBytes == 0, "nothing written for an unsupported version")
            var encoding = ByteBuffer(repeating: 0, count: 64)
            let readError = expectWireError { () throws(KafkaWireError) in
                _ = try Message(from: &encoding, version: version)
            }
            #expect(readError?.code == .unsupportedVersion)
        }
    }

    private func requestFrames<Message: SampledMessage & KafkaRequestMessage>(
        _: Message.Type,
        _ codec: MessageCodecCase
    ) {
        for version in Message.supportedVersions {
            for clientID in ["codec-tests", nil] {
                do {
                    let sample = Message.sample(version: version, nulls: false)
                    var body = ByteBuffer()
                    try sample.write(into: &body, version: version)
                    var stream = ByteBuffer()
                    let correlationID = 7000 + Int32(version)
                    try sample.writeFrame(
                        into: &stream, version: version, correlationID: correlationID, clientID: clientID)

                    // protocol.html: request header v2 with flexible request versions, v1 otherwise; the client id
                    // stays a classic int16-length string in both.
                    let headerVersion: Int16 = codec.schemaIsFlexible(version) ? 2 : 1
                    #expect(KafkaRequestHeader.version(for: Message.self, apiVersion: version) == headerVersion)
                    let headerSize = 2 + 2 + 4 + 2 + (clientID?.utf8.count ?? 0) + (headerVersion == 2 ? 1 : 0)

                    var decoder = KafkaFrameDecoder()
                    var frame = try #require(try decoder.decode(buffer: &stream))
                    #expect(stream.readableBytes == 0)
                    #expect(frame.readableBytes == headerSize + body.readableBytes, "v\(version)")
                    let header = try KafkaRequestHeader(from: &frame, headerVersion: headerVersion)
                    #expect(
                        header
                            == KafkaRequestHeader(
                                apiKey: Message.apiKey, apiVersion: version, correlationID: correlationID,
                                clientID: clientID)
                    )
                    #expect(frame == body, "v\(version): the frame ends with the body")
                    #expect(try Message(from: &frame, version: version) == sample, "v\(version)")
                    #expect(frame.readableBytes == 0)
                } catch {
                    Issue.record("\(Message.self) v\(version): \(error)")
                }
            }
        }
    }

    private func responseFrames<Message: SampledMessage & KafkaResponseMessage>(
        _: Message.Type,
        _ codec: MessageCodecCase
    ) {
        for version in Message.supportedVersions {
            do {
                let sample = Message.sample(version: version, nulls: false)
                var body = ByteBuffer()
                try sample.write(into: &body, version: version)
                var stream = ByteBuffer()
                let correlationID = 9000 + Int32(version)
                try sample.writeFrame(into: &stream, version: version, correlationID: correlationID)

                // protocol.html: response header v1 (correlation id + tagged fields) with flexible versions, v0
                // otherwise, except ApiVersions responses, which always use v0.
                let headerVersion: Int16 =
                    Message.apiKey == .apiVersions ? 0 : (codec.schemaIsFlexible(version) ? 1 : 0)
                #expect(KafkaResponseHeader.version(for: Message.self, apiVersion: version) == headerVersion)

                var decoder = KafkaFrameDecoder()
                var frame = try #require(try decoder.decode(buffer: &stream))
                #expect(stream.readableBytes == 0)
                #expect(frame.readableBytes == 4 + Int(headerVersion) + body.readableBytes, "v\(version)")
                #expect(try frame.readKafkaInteger(as: Int32.self) == correlationID)
                var headerless = frame
                if headerVersion == 1 {
                    #expect(try headerless.readUnsignedVarint() == 0, "v\(version): empty tagged-field section")
                }
                #expect(headerless == body, "v\(version): the frame ends with the body")

                #expect(try Message.readBody(from: &frame, version: version) == sample, "v\(version)")
                #expect(frame.readableBytes == 0)
            } catch {
                Issue.record("\(Message.self) v\(version): \(error)")
            }
        }
    }
}

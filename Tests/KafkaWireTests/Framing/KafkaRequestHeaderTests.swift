import KafkaWire
import NIOCore
import Testing

/// Whole frames as `writeFrame` writes them: int32 size, header, body (protocol.html, "Common Request and
/// Response Structure").
@Suite struct KafkaRequestHeaderTests {
    private func frame<Request: KafkaRequestMessage>(
        _ request: Request,
        version: Int16,
        correlationID: Int32,
        clientID: String?
    ) throws -> [UInt8] {
        var buffer = ByteBuffer()
        try request.writeFrame(into: &buffer, version: version, correlationID: correlationID, clientID: clientID)
        return Array(buffer.readableBytesView)
    }

    @Test func headerVersion1Frame() throws {
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x10]  // size: 16
            [0x00, 0x12]  // RequestApiKey: 18 (ApiVersions)
            [0x00, 0x00]  // RequestApiVersion: 0
            [0x00, 0x00, 0x00, 0x01]  // CorrelationId: 1
            [0x00, 0x06]  // ClientId: int16 length 6
            "sluice"
            // body: ApiVersionsRequest v0 has no fields
        }
        #expect(try frame(KafkaApiVersionsRequest(), version: 0, correlationID: 1, clientID: "sluice") == bytes)

        var buffer = ByteBuffer(bytes: bytes.dropFirst(4))
        let header = try KafkaRequestHeader(from: &buffer, headerVersion: 1)
        #expect(
            header == KafkaRequestHeader(apiKey: .apiVersions, apiVersion: 0, correlationID: 1, clientID: "sluice"))
        #expect(buffer.readableBytes == 0)
    }

    @Test func headerVersion1FrameWithANullClientID() throws {
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x0E]  // size: 14
            [0x00, 0x03]  // RequestApiKey: 3 (Metadata)
            [0x00, 0x01]  // RequestApiVersion: 1
            [0x01, 0x02, 0x03, 0x04]  // CorrelationId: 0x01020304
            [0xFF, 0xFF]  // ClientId: null
            [0xFF, 0xFF, 0xFF, 0xFF]  // body: Topics null (all topics)
        }
        let request = KafkaMetadataRequest(topics: nil)
        #expect(try frame(request, version: 1, correlationID: 0x0102_0304, clientID: nil) == bytes)
    }

    @Test func headerVersion2Frame() throws {
        let request = KafkaApiVersionsRequest(clientSoftwareName: "sluice", clientSoftwareVersion: "0.1.0")
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x1F]  // size: 31
            [0x00, 0x12]  // RequestApiKey: 18 (ApiVersions)
            [0x00, 0x03]  // RequestApiVersion: 3 (flexible, so request header v2)
            [0x00, 0x00, 0x00, 0x07]  // CorrelationId: 7
            [0x00, 0x06]  // ClientId: still an int16-length string in header v2
            "sluice"
            [0x00]  // header tagged fields: none
            [0x07]  // body: ClientSoftwareName, compact string 6 + 1
            "sluice"
            [0x06]  // ClientSoftwareVersion, compact string 5 + 1
            "0.1.0"
            [0x00]  // body tagged fields: none
        }
        #expect(try frame(request, version: 3, correlationID: 7, clientID: "sluice") == bytes)

        var buffer = ByteBuffer(bytes: bytes.dropFirst(4))
        let header = try KafkaRequestHeader(from: &buffer, headerVersion: 2)
        #expect(
            header == KafkaRequestHeader(apiKey: .apiVersions, apiVersion: 3, correlationID: 7, clientID: "sluice"))
        #expect(try KafkaApiVersionsRequest(from: &buffer, version: 3) == request)
        #expect(buffer.readableBytes == 0)
    }

    @Test func headerVersion2WithUnknownTaggedFieldsIsRead() throws {
        let bytes = wire {
            [0x00, 0x12, 0x00, 0x03]  // ApiVersions v3
            [0x00, 0x00, 0x00, 0x09]  // CorrelationId: 9
            [0xFF, 0xFF]  // ClientId: null
            [0x01, 0x03, 0x02, 0xAA, 0xBB]  // header tagged fields: tag 3 (unknown), 2 bytes
            [0x01, 0x01, 0x00]  // body: two empty compact strings, no tagged fields
        }
        var buffer = ByteBuffer(bytes: bytes)
        let header = try KafkaRequestHeader(from: &buffer, headerVersion: 2)
        #expect(header == KafkaRequestHeader(apiKey: .apiVersions, apiVersion: 3, correlationID: 9, clientID: nil))
        #expect(try KafkaApiVersionsRequest(from: &buffer, version: 3) == KafkaApiVersionsRequest())
    }

    @Test func headerVersionsFollowTheRequestVersion() {
        #expect(KafkaRequestHeader.version(for: KafkaApiVersionsRequest.self, apiVersion: 2) == 1)
        #expect(KafkaRequestHeader.version(for: KafkaApiVersionsRequest.self, apiVersion: 3) == 2)
        #expect(KafkaRequestHeader.version(for: KafkaMetadataRequest.self, apiVersion: 8) == 1)
        #expect(KafkaRequestHeader.version(for: KafkaMetadataRequest.self, apiVersion: 9) == 2)
        #expect(KafkaRequestHeader.version(for: KafkaSaslHandshakeRequest.self, apiVersion: 1) == 1)
    }

    // MARK: Responses

    @Test func apiVersionsResponsesAlwaysUseResponseHeaderVersion0() throws {
        let response = KafkaApiVersionsResponse(apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x13]  // size: 19
            [0x00, 0x00, 0x00, 0x07]  // CorrelationId: 7, and no tagged fields although v3 is flexible
            [0x00, 0x00]  // ErrorCode: 0
            [0x02]  // ApiKeys: compact array, 1 + 1
            [0x00, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00]  //   ApiVersions 0...4, no tagged fields
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0
            [0x00]  // tagged fields: none
        }
        var buffer = ByteBuffer()
        try response.writeFrame(into: &buffer, version: 3, correlationID: 7)
        #expect(Array(buffer.readableBytesView) == bytes)

        var frame = ByteBuffer(bytes: bytes.dropFirst(4))
        #expect(try KafkaResponseHeader(from: &frame, headerVersion: 0) == KafkaResponseHeader(correlationID: 7))
        #expect(try KafkaApiVersionsResponse.readBody(from: &frame, version: 3) == response)
        #expect(frame.readableBytes == 0)
    }

    @Test func flexibleResponsesUseResponseHeaderVersion1() throws {
        let response = KafkaHeartbeatResponse(throttleTimeMs: 0, errorCode: KafkaErrorCode.rebalanceInProgress.rawValue)
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x0C]  // size: 12
            [0x00, 0x00, 0x00, 0x09]  // CorrelationId: 9
            [0x00]  // header tagged fields: none (response header v1)
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0
            [0x00, 0x1B]  // ErrorCode: 27 (REBALANCE_IN_PROGRESS)
            [0x00]  // tagged fields: none
        }
        var buffer = ByteBuffer()
        try response.writeFrame(into: &buffer, version: 4, correlationID: 9)
        #expect(Array(buffer.readableBytesView) == bytes)

        // readBody starts after the correlation id and skips the header's tagged fields, known or not.
        var frame = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x09, 0x01, 0x05, 0x01, 0xEE] + bytes.suffix(7))
        #expect(try frame.readKafkaInteger(as: Int32.self) == 9)
        #expect(try KafkaHeartbeatResponse.readBody(from: &frame, version: 4) == response)
        #expect(frame.readableBytes == 0)
    }

    @Test func classicResponsesUseResponseHeaderVersion0() throws {
        let response = KafkaHeartbeatResponse(throttleTimeMs: 5, errorCode: 0)
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x0A]  // size: 10
            [0x00, 0x00, 0x00, 0x02]  // CorrelationId: 2
            [0x00, 0x00, 0x00, 0x05]  // ThrottleTimeMs: 5
            [0x00, 0x00]  // ErrorCode: 0
        }
        var buffer = ByteBuffer()
        try response.writeFrame(into: &buffer, version: 3, correlationID: 2)
        #expect(Array(buffer.readableBytesView) == bytes)
        var frame = ByteBuffer(bytes: bytes.dropFirst(8))
        #expect(try KafkaHeartbeatResponse.readBody(from: &frame, version: 3) == response)
    }
}

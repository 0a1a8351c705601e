import KafkaWire
import NIOCore
import Testing

@Suite struct ApiVersionsResponseTests {
    @Test func version0KnownBytes() throws {
        let response = KafkaApiVersionsResponse(
            errorCode: 0,
            apiKeys: [
                .init(apiKey: 0, minVersion: 0, maxVersion: 11),
                .init(apiKey: 18, minVersion: 0, maxVersion: 4),
            ]
        )
        let bytes = wire {
            [0x00, 0x00]  // ErrorCode: 0
            [0x00, 0x00, 0x00, 0x02]  // ApiKeys: int32 count 2
            [0x00, 0x00]  //   ApiKey: 0 (Produce)
            [0x00, 0x00]  //   MinVersion: 0
            [0x00, 0x0B]  //   MaxVersion: 11
            [0x00, 0x12]  //   ApiKey: 18 (ApiVersions)
            [0x00, 0x00]  //   MinVersion: 0
            [0x00, 0x04]  //   MaxVersion: 4
            // ThrottleTimeMs arrives in v1.
        }
        try expectEncoding(response, version: 0, is: bytes)
    }

    static let version3 = KafkaApiVersionsResponse(
        errorCode: 0,
        apiKeys: [
            .init(apiKey: 0, minVersion: 0, maxVersion: 11),
            .init(apiKey: 18, minVersion: 0, maxVersion: 4),
        ],
        throttleTimeMs: 100,
        supportedFeatures: [.init(name: "metadata.version", minVersion: 1, maxVersion: 20)],
        finalizedFeaturesEpoch: 5,
        finalizedFeatures: [.init(name: "metadata.version", maxVersionLevel: 20, minVersionLevel: 1)],
        zkMigrationReady: true
    )

    @Test func version3KnownBytes() throws {
        let bytes = wire {
            [0x00, 0x00]  // ErrorCode: 0
            [0x03]  // ApiKeys: compact array, 2 + 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x0B]  //   Produce, 0...11
            [0x00]  //   tagged fields: none
            [0x00, 0x12, 0x00, 0x00, 0x00, 0x04]  //   ApiVersions, 0...4
            [0x00]  //   tagged fields: none
            [0x00, 0x00, 0x00, 0x64]  // ThrottleTimeMs: 100
            [0x04]  // tagged fields: 4
            [0x00, 0x17]  // tag 0 (SupportedFeatures), 23 bytes
            [0x02]  //   compact array, 1 + 1
            [0x11]  //   Name: compact string, 16 + 1
            "metadata.version"
            [0x00, 0x01]  //   MinVersion: 1
            [0x00, 0x14]  //   MaxVersion: 20
            [0x00]  //   tagged fields: none
            [0x01, 0x08]  // tag 1 (FinalizedFeaturesEpoch), 8 bytes
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05]  //   5
            [0x02, 0x17]  // tag 2 (FinalizedFeatures), 23 bytes
            [0x02]  //   compact array, 1 + 1
            [0x11]  //   Name: compact string, 16 + 1
            "metadata.version"
            [0x00, 0x14]  //   MaxVersionLevel: 20
            [0x00, 0x01]  //   MinVersionLevel: 1
            [0x00]  //   tagged fields: none
            [0x03, 0x01]  // tag 3 (ZkMigrationReady), 1 byte
            [0x01]  //   true
        }
        try expectEncoding(Self.version3, version: 3, is: bytes)
    }

    @Test func version3TaggedFieldsAtTheirDefaultsAreLeftOut() throws {
        let response = KafkaApiVersionsResponse(apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        let bytes = wire {
            [0x00, 0x00]  // ErrorCode: 0
            [0x02]  // ApiKeys: compact array, 1 + 1
            [0x00, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00]  //   ApiVersions, 0...4, no tagged fields
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0
            [0x00]  // tagged fields: none (empty features, epoch -1 and false are the defaults)
        }
        try expectEncoding(response, version: 3, is: bytes)
    }

    /// A newer broker may send tagged fields this version does not know, at any level: they are skipped.
    @Test func version3UnknownTaggedFieldsAreSkipped() throws {
        let bytes = wire {
            [0x00, 0x00]  // ErrorCode: 0
            [0x03]  // ApiKeys: compact array, 2 + 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x0B]  //   Produce, 0...11
            [0x01]  //   tagged fields: 1
            [0x05, 0x02, 0xAB, 0xCD]  //   tag 5 (unknown), 2 bytes
            [0x00, 0x12, 0x00, 0x00, 0x00, 0x04]  //   ApiVersions, 0...4
            [0x00]  //   tagged fields: none
            [0x00, 0x00, 0x00, 0x64]  // ThrottleTimeMs: 100
            [0x05]  // tagged fields: 5
            [0x00, 0x17, 0x02, 0x11]  // tag 0 (SupportedFeatures), 23 bytes: 1 element, name of 16 bytes
            "metadata.version"
            [0x00, 0x01, 0x00, 0x14, 0x00]  //   1...20, no tagged fields
            [0x01, 0x08]  // tag 1 (FinalizedFeaturesEpoch), 8 bytes
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05]
            [0x02, 0x17, 0x02, 0x11]  // tag 2 (FinalizedFeatures), 23 bytes: 1 element, name of 16 bytes
            "metadata.version"
            [0x00, 0x14, 0x00, 0x01, 0x00]  //   max 20, min 1, no tagged fields
            [0x03, 0x01, 0x01]  // tag 3 (ZkMigrationReady), 1 byte: true
            [0x09, 0x03, 0xAA, 0xBB, 0xCC]  // tag 9 (unknown), 3 bytes
        }
        var buffer = ByteBuffer(bytes: bytes)
        let response = try KafkaApiVersionsResponse(from: &buffer, version: 3)
        #expect(response == Self.version3)
        #expect(buffer.readableBytes == 0)
    }

    @Test func version3OnlyUnknownTaggedFieldsLeaveTheDefaults() throws {
        let bytes = wire {
            [0x00, 0x23]  // ErrorCode: 35 (UNSUPPORTED_VERSION)
            [0x01]  // ApiKeys: compact array, empty
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0
            [0x02]  // tagged fields: 2
            [0x04, 0x00]  // tag 4 (unknown), 0 bytes
            [0x80, 0x01, 0x01, 0xEE]  // tag 128 (unknown, two-byte varint), 1 byte
        }
        var buffer = ByteBuffer(bytes: bytes)
        let response = try KafkaApiVersionsResponse(from: &buffer, version: 3)
        #expect(response == KafkaApiVersionsResponse(errorCode: KafkaErrorCode.unsupportedVersion.rawValue))
        #expect(response.finalizedFeaturesEpoch == -1)
        #expect(buffer.readableBytes == 0)
    }
}

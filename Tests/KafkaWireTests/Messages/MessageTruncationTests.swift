import KafkaWire
import NIOCore
import Testing

/// Bytes that stop early: every strict prefix of every sample encoding must be refused with a `KafkaWireError`,
/// never read as a (shorter) message and never trap.
@Suite struct MessageTruncationTests {
    @Test(arguments: MessageCodecCase.all)
    func everyStrictPrefixOfEveryVersionIsRefused(_ codec: MessageCodecCase) throws {
        for version in codec.messageType.supportedVersions {
            for nulls in [false, true] {
                let encoding = try codec.sampleEncoding(version: version, nulls: nulls)
                for length in 0..<encoding.readableBytes {
                    var prefix = ByteBuffer(bytes: encoding.readableBytesView.prefix(length))
                    let error = expectWireError("\(codec.name) v\(version) prefix of \(length) bytes") {
                        () throws(KafkaWireError) in
                        try codec.decode(&prefix, version: version)
                    }
                    if error == nil { return }  // one report per type is enough
                }
            }
        }
    }

    /// A message is read up to its own end: bytes after it (the next field of an enclosing structure) are left.
    @Test(arguments: MessageCodecCase.all)
    func bytesAfterTheMessageAreLeftUnread(_ codec: MessageCodecCase) throws {
        for version in codec.messageType.supportedVersions {
            var buffer = try codec.sampleEncoding(version: version, nulls: false)
            buffer.writeBytes([0xDE, 0xAD, 0xBE])
            try codec.decode(&buffer, version: version)
            #expect(Array(buffer.readableBytesView) == [0xDE, 0xAD, 0xBE], "\(codec.name) v\(version)")
        }
    }
}

import KafkaWire
import NIOCore
import Testing

@Suite struct ApiVersionsRequestTests {
    @Test func version0HasNoFields() throws {
        try expectEncoding(KafkaApiVersionsRequest(), version: 0, is: [])

        // The client software fields arrived in v3 (and are ignorable): an older version leaves them out.
        var buffer = ByteBuffer()
        try KafkaApiVersionsRequest(clientSoftwareName: "sluice", clientSoftwareVersion: "0.1.0")
            .write(into: &buffer, version: 0)
        #expect(buffer.readableBytes == 0)
    }

    @Test func version3KnownBytes() throws {
        let request = KafkaApiVersionsRequest(clientSoftwareName: "sluice", clientSoftwareVersion: "0.1.0")
        let bytes = wire {
            [0x07]  // ClientSoftwareName: compact string, length 6 + 1
            "sluice"
            [0x06]  // ClientSoftwareVersion: compact string, length 5 + 1
            "0.1.0"
            [0x00]  // tagged fields: none
        }
        try expectEncoding(request, version: 3, is: bytes)
    }
}

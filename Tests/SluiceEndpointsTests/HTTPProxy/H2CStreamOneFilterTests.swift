import NIOCore
import NIOEmbedded
import Testing

@testable import SluiceEndpoints

/// The filter that keeps an upgraded connection's stream-1 HEADERS (already sent in HTTP/1.1) off the wire, on
/// known frame bytes fed whole, byte at a time and in odd pieces.
@Suite("h2c stream 1 filter")
struct H2CStreamOneFilterTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// A frame: 24-bit length, type, flags, stream id, payload.
    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
            + [UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)]
            + payload
    }

    static let settings = frame(type: 0x4, flags: 0, stream: 0, payload: [0, 2, 0, 0, 0, 0])
    static let windowUpdate = frame(type: 0x8, flags: 0, stream: 0, payload: [0, 0x0f, 0, 1])
    static let headersOne = frame(type: 0x1, flags: 0x5, stream: 1, payload: [0x82, 0x86, 0x84, 0x41, 0x00])
    static let headersThree = frame(type: 0x1, flags: 0x4, stream: 3, payload: [0x82, 0x86])
    static let dataThree = frame(type: 0x0, flags: 0x1, stream: 3, payload: Array("abc".utf8))

    /// Feeds `bytes` in pieces of `sizes` (cycled) and returns what went out.
    func filter(_ bytes: [UInt8], pieces sizes: [Int]) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: H2CStreamOneFilter())
        var offset = 0
        var index = 0
        var completed = 0
        while offset < bytes.count {
            let size = min(sizes[index % sizes.count], bytes.count - offset)
            // Not `writeOutbound`, which waits for the write's promise: one the filter left pending would hang.
            channel.writeAndFlush(IOData.byteBuffer(ByteBuffer(bytes: bytes[offset..<offset + size])))
                .assumeIsolated().whenSuccess { completed += 1 }
            offset += size
            index += 1
        }
        #expect(completed == index, "every write's promise completes")
        var out: [UInt8] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { continue }
            out += buffer.readableBytesView
        }
        _ = try channel.finish()
        return out
    }

    @Test(
        "stream 1's HEADERS are dropped; the preface and every other frame pass as they are",
        arguments: [[1_000], [1], [5, 3, 11], [9]])
    func dropsStreamOneHeaders(pieces: [Int]) throws {
        let input =
            Self.preface + Self.settings + Self.windowUpdate + Self.headersOne + Self.headersThree + Self.dataThree
        let expected = Self.preface + Self.settings + Self.windowUpdate + Self.headersThree + Self.dataThree
        #expect(try filter(input, pieces: pieces) == expected)
    }

    @Test("a header block continued in CONTINUATION frames is dropped whole; frames after it pass")
    func continuation() throws {
        let start = Self.frame(type: 0x1, flags: 0x1, stream: 1, payload: [0x82, 0x86])
        let rest = Self.frame(type: 0x9, flags: 0x4, stream: 1, payload: [0x84])
        let input = Self.preface + Self.settings + start + rest + Self.dataThree
        #expect(try filter(input, pieces: [7]) == Self.preface + Self.settings + Self.dataThree)
    }

    @Test("the HTTP2-Settings header is the SETTINGS payload in base64url without padding (curl's, as a known value)")
    func settingsHeader() {
        // curl 7.88 sends `HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA` for (3, 100), (4, 33554432), (2, 0).
        let payload: [UInt8] = [0, 3, 0, 0, 0, 100, 0, 4, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0]
        #expect(H2CSettings.base64URL(payload) == "AAMAAABkAAQCAAAAAAIAAAAA")
        #expect(H2CSettings.base64URL([0xfb, 0xff]) == "-_8")
        // The gateway's: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 262144, MAX_HEADER_LIST_SIZE 65536.
        #expect(H2CSettings.upgradeHeaderValue == "AAIAAAAAAAQABAAAAAYAAQAA")
    }
}

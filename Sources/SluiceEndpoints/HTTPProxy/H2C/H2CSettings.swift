import NIOCore
import NIOHTTP2

/// What the gateway's h2c connections announce and how they size their windows.
enum H2CSettings {
    /// SETTINGS the gateway sends (as parameter code and value, the form `HTTP2-Settings` encodes): no server
    /// push, 256 KiB stream windows (what a stream whose reader paused may hold), header lists up to 64 KiB.
    static let announced: [(code: UInt16, value: UInt32)] = [
        (0x2, 0),  // SETTINGS_ENABLE_PUSH
        (0x4, 262_144),  // SETTINGS_INITIAL_WINDOW_SIZE
        (0x6, 65_536),  // SETTINGS_MAX_HEADER_LIST_SIZE
    ]

    static let connection: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = announced.map {
            HTTP2Setting(parameter: HTTP2SettingsParameter(extensionSetting: Int($0.code)), value: Int($0.value))
        }
        configuration.targetWindowSize = 1 << 20
        return configuration
    }()

    static let stream: NIOHTTP2Handler.StreamConfiguration = {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = 262_144
        configuration.outboundBufferSizeHighWatermark = 65_536
        configuration.outboundBufferSizeLowWatermark = 32_768
        return configuration
    }()

    /// The `HTTP2-Settings` header of an upgrade request: the SETTINGS frame's payload in base64url without
    /// padding (RFC 7540 §3.2.1).
    static let upgradeHeaderValue: String = {
        var payload: [UInt8] = []
        for setting in announced {
            payload += [UInt8(setting.code >> 8), UInt8(setting.code & 0xff)]
            payload += [24, 16, 8, 0].map { UInt8((setting.value >> $0) & 0xff) }
        }
        return base64URL(payload)
    }()

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for byte in chunk { value = value << 8 | Int(byte) }
            value <<= 8 * (3 - chunk.count)
            for position in 0..<(chunk.count + 1) { output.append(alphabet[(value >> (18 - 6 * position)) & 0x3f]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

import Foundation
public import HTTPTypes
public import HummingbirdCore
import Synchronization

/// Gravitee's client identifier: what names one consumer across requests (its Kafka consumer group, its shared
/// subscription). A client chooses it with the `X-Gravitee-Client-Identifier` header or query parameter; a request
/// without one gets a fresh identifier, as Gravitee gives a key-less request its transaction id. Either way the
/// response carries it back in the header, so a client can keep using the one it was given.
public enum ClientIdentifier {
    public static let name = "X-Gravitee-Client-Identifier"
    public static let field = HTTPField.Name(name)!

    /// The identifier the client gave: the header, else the query parameter. One that could not be echoed in a
    /// header (control characters, say, from a percent-encoded query) counts as not given.
    public static func given(headers: HTTPFields, uri: URI) -> String? {
        if let header = headers[field], isUsable(header) { return header }
        if let query = uri.queryParameters[name[...]], isUsable(query) { return String(query) }
        return nil
    }

    /// Whether `value` can name a client: not empty, and free of control characters, so it can be echoed in a
    /// response header.
    public static func isUsable(_ value: some StringProtocol) -> Bool {
        !value.isEmpty && !value.utf8.contains { $0 < 0x20 || $0 == 0x7F }
    }

    /// The request's identifier: the one the client gave, else a new one (`generated` true).
    public static func resolve(headers: HTTPFields, uri: URI) -> (value: String, generated: Bool) {
        if let given = given(headers: headers, uri: uri) { return (given, false) }
        return (generate(), true)
    }

    /// A new identifier, unique across processes and requests: a random prefix drawn once per process and a
    /// counter, in the form of a UUID. (Drawing a random UUID per request costs more than serving a publish.)
    public static func generate() -> String {
        text(of: reserve(1))
    }

    /// Reserves `count` numbers (for one identifier, or a block of ``ClientIdentifierNumbers``); returns the first.
    /// The block is the `count` values after the counter's old one, which ended the block before it.
    fileprivate static func reserve(_ count: UInt64) -> UInt64 {
        counter.add(count, ordering: .relaxed).newValue &- count &+ 1
    }

    fileprivate static func text(of number: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { format(number, into: $0) }
    }

    /// 8-4-4-4-12 hexadecimal digits: the process's prefix (its 64 bits, spelled once), then the number's 64 bits.
    /// Returns the length written.
    private static func format(_ number: UInt64, into text: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var index = 0
        for byte in prefixText {
            text[index] = byte
            index += 1
        }
        var shift = 60
        while shift >= 0 {
            if shift == 44 {
                text[index] = UInt8(ascii: "-")
                index += 1
            }
            text[index] = hexDigit(number >> UInt64(shift))
            index += 1
            shift -= 4
        }
        return index
    }

    /// The upper-case hexadecimal digit of `value`'s low four bits.
    private static func hexDigit(_ value: UInt64) -> UInt8 {
        let nibble = UInt8(truncatingIfNeeded: value & 0xF)
        return nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    /// The first three groups and their dashes (`XXXXXXXX-XXXX-XXXX-`): a random 64-bit prefix, drawn and spelled
    /// once per process.
    private static let prefixText: [UInt8] = {
        let prefix = UInt64.random(in: .min ... .max)
        var text: [UInt8] = []
        for (value, digits) in [(prefix >> 32, 8), (prefix >> 16, 4), (prefix, 4)] {
            for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                text.append(hexDigit(value >> UInt64(shift)))
            }
            text.append(UInt8(ascii: "-"))
        }
        return text
    }()
    private static let counter = Atomic<UInt64>(UInt64.random(in: 0...UInt64(UInt32.max)))

    public static func resolve(_ request: Request) -> (value: String, generated: Bool) {
        resolve(headers: request.headers, uri: request.uri)
    }
}

/// New client identifiers for one connection: numbers are taken from the process's counter a block at a time, so
/// a connection that serves many key-less requests touches the counter (which every event loop shares) once per
/// block rather than once per request. Identifiers stay unique across the process.
public struct ClientIdentifierNumbers: Sendable {
    private static let block: UInt64 = 256
    private var next: UInt64 = 0
    private var end: UInt64 = 0

    public init() {}

    public mutating func generate() -> String {
        if next == end {
            next = ClientIdentifier.reserve(Self.block)
            end = next &+ Self.block
        }
        defer { next &+= 1 }
        return ClientIdentifier.text(of: next)
    }
}

/// A W3C Trace Context `traceparent` value (https://www.w3.org/TR/trace-context/#traceparent-header): the trace a
/// request or message belongs to, and the span that sent it.
///
/// Parsing follows the specification's rules for a receiver: a value that is not exactly valid is ignored (nil),
/// never an error to the client. Version `00` must be exactly 55 characters; a later version (not `ff`) may be
/// longer, with a `-` after the flags; hex digits are lowercase; the trace and parent ids must not be all zeros.
public struct TraceParent: Sendable, Hashable {
    /// 32 lowercase hex digits.
    public var traceID: Substring
    /// 16 lowercase hex digits: the span that sent this value.
    public var parentID: Substring
    /// The trace flags byte; bit 0 is "sampled".
    public var flags: UInt8

    public var isSampled: Bool { flags & 1 == 1 }

    public static let headerName = "traceparent"
    /// The vendor-specific companion header; carried along only with a valid `traceparent`.
    public static let stateHeaderName = "tracestate"
    /// The longest `tracestate` carried (the specification's limit is 32 members; 512 characters is what it asks
    /// propagators to keep at least).
    public static let maxStateLength = 512

    public init?(_ value: some StringProtocol) {
        let text = Substring(value)
        let utf8 = text.utf8
        guard utf8.count >= 55 else { return nil }
        var bytes = utf8.makeIterator()
        // version "-" trace-id "-" parent-id "-" flags
        guard let version = Self.hexByte(&bytes), version != 0xff, bytes.next() == UInt8(ascii: "-") else {
            return nil
        }
        if version == 0, utf8.count != 55 { return nil }
        var traceNonZero = false
        for _ in 0..<16 {
            guard let byte = Self.hexByte(&bytes) else { return nil }
            traceNonZero = traceNonZero || byte != 0
        }
        guard traceNonZero, bytes.next() == UInt8(ascii: "-") else { return nil }
        var parentNonZero = false
        for _ in 0..<8 {
            guard let byte = Self.hexByte(&bytes) else { return nil }
            parentNonZero = parentNonZero || byte != 0
        }
        guard parentNonZero, bytes.next() == UInt8(ascii: "-"), let flags = Self.hexByte(&bytes) else { return nil }
        // A later version may append fields, after a dash.
        if utf8.count > 55, bytes.next() != UInt8(ascii: "-") { return nil }
        let start = text.startIndex
        let traceStart = text.utf8.index(start, offsetBy: 3)
        let traceEnd = text.utf8.index(traceStart, offsetBy: 32)
        let parentStart = text.utf8.index(traceEnd, offsetBy: 1)
        let parentEnd = text.utf8.index(parentStart, offsetBy: 16)
        traceID = text[traceStart..<traceEnd]
        parentID = text[parentStart..<parentEnd]
        self.flags = flags
    }

    /// Two lowercase hex digits as a byte; nil for anything else.
    private static func hexByte(_ bytes: inout Substring.UTF8View.Iterator) -> UInt8? {
        guard let high = bytes.next().flatMap(hexValue), let low = bytes.next().flatMap(hexValue) else { return nil }
        return high << 4 | low
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Whether a `tracestate` value may travel on: bounded, printable ASCII without newlines (its members are the
    /// vendors' business; a malformed one is dropped whole).
    public static func isCarriableState(_ value: some StringProtocol) -> Bool {
        value.utf8.count <= maxStateLength && value.utf8.allSatisfy { (0x20...0x7e).contains($0) }
    }
}

extension MessageHeaders {
    /// Adds the trace context a client sent (`traceparent`, and `tracestate` with it), when its `traceparent` is
    /// valid; an invalid or absent one adds nothing. `field` looks a request header up by lowercase name.
    public mutating func addTraceContext(_ field: (String) -> String?) {
        guard let parent = field(TraceParent.headerName), TraceParent(parent) != nil else { return }
        add(name: TraceParent.headerName, value: parent)
        if let state = field(TraceParent.stateHeaderName), !state.isEmpty, TraceParent.isCarriableState(state) {
            add(name: TraceParent.stateHeaderName, value: state)
        }
    }

    /// The message's trace context: its valid `traceparent` and its `tracestate`, if any.
    public var traceContext: (parent: String, state: String?)? {
        guard let parent = first(TraceParent.headerName), TraceParent(parent) != nil else { return nil }
        return (parent, first(TraceParent.stateHeaderName))
    }

    /// Replaces the message's trace context with `parent` and `state` (the gateway's own span's, when it traces).
    public mutating func setTraceContext(parent: String, state: String?) {
        set(name: TraceParent.headerName, value: parent)
        if let state {
            set(name: TraceParent.stateHeaderName, value: state)
        } else {
            remove(name: TraceParent.stateHeaderName)
        }
    }

    /// The first value of header `name` (case-insensitive), without building an array.
    public func first(_ name: String) -> String? {
        for field in fields where field.name.utf8.count == name.utf8.count && field.name.lowercased() == name {
            return field.value
        }
        return nil
    }

    /// Whether the header names are ones a trace context header is carried under (such a header copied from a
    /// request is replaced by ``addTraceContext(_:)``'s validated one).
    public static func isTraceContextName(_ lowercasedName: String) -> Bool {
        lowercasedName == TraceParent.headerName || lowercasedName == TraceParent.stateHeaderName
    }
}

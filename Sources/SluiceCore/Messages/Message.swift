public import NIOCore

/// One message travelling through the gateway: produced by a client or consumed from an endpoint.
public struct Message: Sendable {
    /// The endpoint's identifier for this message (an offset, or the mock's sequence number); clients resume after it.
    public var id: String?
    public var content: ByteBuffer
    public var headers: MessageHeaders
    /// Endpoint facts about the message (`topic`, `partition`, `offset`, `key`, …).
    public var metadata: [String: String]
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    /// Gravitee's message attributes (`gravitee.attribute.kafka.recordKey`, …): settings for the endpoint that
    /// travel with the message rather than in it. Flows set them (`assign-attributes`, and the request's
    /// `gravitee.attribute.…` context attributes, see docs/flows.md); endpoints honour the ones they know.
    public var attributes: [String: String]

    public init(
        id: String? = nil,
        content: ByteBuffer,
        headers: MessageHeaders = MessageHeaders(),
        metadata: [String: String] = [:],
        timestamp: Int64 = 0,
        attributes: [String: String] = [:]
    ) {
        self.id = id
        self.content = content
        self.headers = headers
        self.metadata = metadata
        self.timestamp = timestamp
        self.attributes = attributes
    }

    /// Content size plus header sizes: what retention limits count.
    public var approximateSize: Int {
        var size = content.readableBytes
        if !headers.isEmpty { size += headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count } }
        if !metadata.isEmpty { size += metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } }
        return size
    }
}

/// Message headers: ordered, repeatable, looked up case-insensitively.
public struct MessageHeaders: Sendable, Sequence, ExpressibleByArrayLiteral {
    public typealias Element = (name: String, value: String)

    public private(set) var fields: [Element] = []

    public init() {}

    public init(arrayLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name: name, value: value) }
    }

    public init(_ elements: [(name: String, value: String)]) {
        fields = elements
    }

    public mutating func add(name: String, value: String) { fields.append((name, value)) }

    public mutating func set(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    public mutating func remove(name: String) {
        fields.removeAll { $0.name.lowercased() == name.lowercased() }
    }

    public subscript(name: String) -> [String] {
        let lowered = name.lowercased()
        return fields.filter { $0.name.lowercased() == lowered }.map(\.value)
    }

    public var isEmpty: Bool { fields.isEmpty }
    public var count: Int { fields.count }

    /// Header names in first-seen order with all their values: the shape Gravitee renders (`{"h": ["v1", "v2"]}`).
    public var grouped: [(name: String, values: [String])] {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for field in fields {
            if values[field.name] == nil { order.append(field.name) }
            values[field.name, default: []].append(field.value)
        }
        return order.map { ($0, values[$0]!) }
    }

    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }
}

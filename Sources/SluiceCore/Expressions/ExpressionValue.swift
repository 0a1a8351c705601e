public import Foundation
public import NIOCore

/// What an expression evaluates to. Objects of the gateway (a request, its headers, a message) are exposed through
/// ``ExpressionObject`` and read lazily, member by member.
public enum ExpressionValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([ExpressionValue])
    case map([String: ExpressionValue])
    case object(any ExpressionObject)

    /// SpEL's truth: only `true` is true (a condition that is not a boolean is false).
    public var isTrue: Bool {
        if case .bool(true) = self { return true }
        return false
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value as text, as a template writes it.
    public var text: String {
        switch self {
        case .null: ""
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .double(let value):
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) + ".0" : String(value)
        case .string(let value): value
        case .list(let values): "[" + values.map(\.text).joined(separator: ", ") + "]"
        case .map(let values):
            "{" + values.keys.sorted().map { "\($0)=\(values[$0]!.text)" }.joined(separator: ", ") + "}"
        case .object(let object): object.text
        }
    }
}

extension ExpressionValue: Equatable {
    /// Equality as SpEL's `==` sees it: numbers by value whatever their kind, text by its characters, lists and maps
    /// element by element; objects only when they are the same object.
    public static func == (lhs: ExpressionValue, rhs: ExpressionValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.int(let a), .double(let b)): Double(a) == b
        case (.double(let a), .int(let b)): a == Double(b)
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.list(let a), .list(let b)): a == b
        case (.map(let a), .map(let b)): a == b
        case (.object(let a), .object(let b)): a.isSame(as: b)
        default: false
        }
    }
}

/// A gateway object an expression reads: members by name (`#request.path`), entries by key (`headers['x']`), and
/// methods (`headers.getFirst('x')`). Whatever it does not have is null.
public protocol ExpressionObject: Sendable {
    func member(_ name: String) -> ExpressionValue
    /// `object[key]`; the default reads the member of that name.
    func entry(_ key: ExpressionValue) -> ExpressionValue
    /// `object.name(arguments)`; nil when the object has no such method.
    func call(_ name: String, _ arguments: [ExpressionValue]) -> ExpressionValue?
    /// How a template writes it.
    var text: String { get }
    func isSame(as other: any ExpressionObject) -> Bool
    /// The bytes of a text member, when the object holds them as bytes (a message's `content`): what `#jsonPath`
    /// reads in place instead of the member's `String`. Nil (the default) for anything else.
    func bytes(of member: String) -> ByteBuffer?
}

extension ExpressionObject {
    public func bytes(of member: String) -> ByteBuffer? { nil }

    public func entry(_ key: ExpressionValue) -> ExpressionValue {
        if case .string(let name) = key { return member(name) }
        return .null
    }

    public func call(_ name: String, _ arguments: [ExpressionValue]) -> ExpressionValue? { nil }

    public var text: String { "" }

    public func isSame(as other: any ExpressionObject) -> Bool { false }
}

/// Multi-valued headers as Gravitee's expressions see them: `headers['name']` is the list of values (null when
/// absent), `headers['name'][0]` the first, and `getFirst`, `get`, `containsKey`, `keySet`, `size`, `isEmpty` as
/// on Gravitee's HttpHeaders. Names are case-insensitive.
public struct HeadersExpressionObject: ExpressionObject {
    private let values: [String: [String]]

    public init(_ pairs: [(name: String, value: String)]) {
        var values: [String: [String]] = [:]
        for (name, value) in pairs { values[name.lowercased(), default: []].append(value) }
        self.values = values
    }

    public func member(_ name: String) -> ExpressionValue {
        values[name.lowercased()].map { .list($0.map(ExpressionValue.string)) } ?? .null
    }

    public func call(_ name: String, _ arguments: [ExpressionValue]) -> ExpressionValue? {
        switch (name, arguments.first) {
        case ("getFirst", .string(let header)?): values[header.lowercased()]?.first.map(ExpressionValue.string) ?? .null
        case ("get", .string(let header)?): member(header)
        case ("containsKey", .string(let header)?), ("contains", .string(let header)?):
            .bool(values[header.lowercased()] != nil)
        case ("keySet", nil), ("names", nil): .list(values.keys.sorted().map(ExpressionValue.string))
        case ("size", nil): .int(Int64(values.count))
        case ("isEmpty", nil): .bool(values.isEmpty)
        default: nil
        }
    }

    public var text: String {
        "{" + values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: ", ") + "}"
    }
}

extension ExpressionValue {
    /// A JSON value as expressions see it: objects as maps, arrays as lists, whole numbers as integers.
    public init(json: JSONValue) {
        self = JSONPathQuery.expressionValue(json)
    }
}

extension ExpressionScope {
    /// This scope with `#name` set to `value`, without copying the scope's variables (a flow sets `#message` for
    /// every message this way).
    public func with(_ name: String, _ value: ExpressionValue) -> ExpressionScope {
        var scope = self
        scope.overlay = (name, value)
        return scope
    }

    /// This scope with `#context.attributes[name]` set to `value`.
    public func withContextAttribute(_ name: String, _ value: ExpressionValue) -> ExpressionScope {
        var scope = self
        var context: [String: ExpressionValue] = [:]
        if case .map(let existing)? = scope.variables["context"] { context = existing }
        var attributes: [String: ExpressionValue] = [:]
        if case .map(let existing)? = context["attributes"] { attributes = existing }
        attributes[name] = value
        context["attributes"] = .map(attributes)
        scope.variables["context"] = .map(context)
        return scope
    }
}

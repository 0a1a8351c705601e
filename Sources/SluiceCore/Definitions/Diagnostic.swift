/// One problem found in an API definition, located by its JSON path.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    /// JSON path such as `endpointGroups[0].endpoints[0].configuration.messageInterval`.
    public var path: String
    public var message: String
    public var severity: Severity
    /// A stable key for machines, e.g. `UNSUPPORTED_TYPE`, `INVALID_VALUE`, `MISSING_FIELD`.
    public var code: String

    public init(path: String, message: String, severity: Severity = .error, code: String = "INVALID_VALUE") {
        self.path = path
        self.message = message
        self.severity = severity
        self.code = code
    }

    public var description: String {
        let location = path.isEmpty ? "$" : path
        return severity == .error ? "\(location): \(message)" : "\(location): warning: \(message)"
    }
}

/// A JSON path under construction, e.g. `listeners[0].entrypoints[1].type`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public private(set) var text: String

    public init(_ text: String = "") { self.text = text }

    public func key(_ key: String) -> JSONPath {
        let simple = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        if simple { return JSONPath(text.isEmpty ? key : "\(text).\(key)") }
        return JSONPath("\(text)[\(JSONString.quoted(key))]")
    }

    public func index(_ index: Int) -> JSONPath { JSONPath("\(text)[\(index)]") }

    public var description: String { text }
}

/// Collects diagnostics while a definition is read.
public struct DiagnosticCollector: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public mutating func error(_ path: JSONPath, _ message: String, code: String = "INVALID_VALUE") {
        diagnostics.append(Diagnostic(path: path.text, message: message, code: code))
    }

    public mutating func warning(_ path: JSONPath, _ message: String, code: String = "IGNORED") {
        diagnostics.append(Diagnostic(path: path.text, message: message, severity: .warning, code: code))
    }

    public mutating func unsupported(_ path: JSONPath, kind: String, type: String) {
        diagnostics.append(
            Diagnostic(path: path.text, message: "\(kind) type '\(type)' is not supported", code: "UNSUPPORTED_TYPE")
        )
    }

    public mutating func append(contentsOf other: [Diagnostic]) { diagnostics.append(contentsOf: other) }
}

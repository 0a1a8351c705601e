import Foundation

/// Reads typed fields out of a JSON object, recording a diagnostic with the field's path for each problem.
///
/// Gravitee's own loader is lenient about scalar types (`"heartbeatIntervalInMs": "2000"` is accepted as a
/// number), so this reader accepts numeric and boolean strings where a number or boolean is expected.
public struct ConfigurationReader {
    public let object: JSONObject
    public let path: JSONPath

    public init(_ object: JSONObject, at path: JSONPath) {
        self.object = object
        self.path = path
    }

    /// A reader over `value` at `path`; reports a diagnostic and reads an empty object when `value` is not an object.
    public init(_ value: JSONValue?, at path: JSONPath, diagnostics: inout DiagnosticCollector) {
        switch value {
        case .object(let object)?: self.init(object, at: path)
        case nil, .null?: self.init(JSONObject(), at: path)
        case let other?:
            diagnostics.error(path, "must be an object, found \(other.typeName)")
            self.init(JSONObject(), at: path)
        }
    }

    public func has(_ key: String) -> Bool {
        if let value = object[key], !value.isNull { return true }
        return false
    }

    public func string(_ key: String, _ diagnostics: inout DiagnosticCollector, required: Bool = false) -> String? {
        switch object[key] {
        case nil, .null?:
            if required { diagnostics.error(path.key(key), "is required", code: "MISSING_FIELD") }
            return nil
        case .string(let s)?:
            if required && s.isEmpty { diagnostics.error(path.key(key), "must not be empty") }
            return s
        case .number(let n)?:
            return JSONValue.numberText(n)
        case .bool(let b)?:
            return b ? "true" : "false"
        case let other?:
            diagnostics.error(path.key(key), "must be a string, found \(other.typeName)")
            return nil
        }
    }

    public func bool(_ key: String, _ diagnostics: inout DiagnosticCollector) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case .string(let s)? where s.lowercased() == "true": return true
        case .string(let s)? where s.lowercased() == "false": return false
        case let other?:
            diagnostics.error(path.key(key), "must be a boolean, found \(other.typeName)")
            return nil
        }
    }

    /// Reads an integer; `minimum` bounds it (1 gives "must be a positive integer").
    public func integer(
        _ key: String,
        _ diagnostics: inout DiagnosticCollector,
        minimum: Int64? = nil,
        maximum: Int64? = nil
    ) -> Int64? {
        let number: Double?
        switch object[key] {
        case nil, .null?: return nil
        case .number(let n)?: number = n
        case .string(let s)?: number = Double(s.trimmingCharacters(in: .whitespaces))
        default: number = nil
        }
        let expectation: String
        switch (minimum, maximum) {
        case (1?, nil): expectation = "must be a positive integer"
        case (0?, nil): expectation = "must be a non-negative integer"
        case (let lo?, let hi?): expectation = "must be an integer between \(lo) and \(hi)"
        default: expectation = "must be an integer"
        }
        guard let number, number.rounded() == number, abs(number) < 9.0e15 else {
            diagnostics.error(path.key(key), expectation)
            return nil
        }
        let value = Int64(number)
        if let minimum, value < minimum { diagnostics.error(path.key(key), expectation); return nil }
        if let maximum, value > maximum { diagnostics.error(path.key(key), expectation); return nil }
        return value
    }

    public func object(_ key: String, _ diagnostics: inout DiagnosticCollector) -> ConfigurationReader {
        ConfigurationReader(object[key], at: path.key(key), diagnostics: &diagnostics)
    }

    /// Reads an array; a missing or null field reads as empty.
    public func array(_ key: String, _ diagnostics: inout DiagnosticCollector) -> [(JSONValue, JSONPath)] {
        switch object[key] {
        case nil, .null?: return []
        case .array(let items)?: return items.enumerated().map { ($0.element, path.key(key).index($0.offset)) }
        case let other?:
            diagnostics.error(path.key(key), "must be an array, found \(other.typeName)")
            return []
        }
    }

    /// Reads Gravitee's `[{"name": …, "value": …}]` lists (mock headers, metadata, properties).
    public func namedValues(_ key: String, _ diagnostics: inout DiagnosticCollector) -> [(name: String, value: String)]
    {
        var result: [(String, String)] = []
        for (item, itemPath) in array(key, &diagnostics) {
            let reader = ConfigurationReader(item, at: itemPath, diagnostics: &diagnostics)
            if let name = reader.string("name", &diagnostics, required: true) {
                result.append((name, reader.string("value", &diagnostics) ?? ""))
            }
        }
        return result
    }

    /// Reports fields that are not in `known`, as warnings: Gravitee ignores unknown fields too.
    public func warnUnknown(_ known: Set<String>, _ diagnostics: inout DiagnosticCollector) {
        for key in object.keys where !known.contains(key) {
            diagnostics.warning(path.key(key), "unknown field, ignored")
        }
    }
}

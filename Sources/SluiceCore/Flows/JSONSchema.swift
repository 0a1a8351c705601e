import Foundation

/// The part of JSON Schema (draft-07) that `json-validation` checks here, compiled once at deploy: `type`,
/// `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `minLength`/`maxLength`,
/// `pattern`, `minimum`/`maximum`, `exclusiveMinimum`/`exclusiveMaximum`, `multipleOf`, `minItems`/`maxItems`,
/// `uniqueItems`, `minProperties`/`maxProperties`. Annotations (`title`, `description`, `$schema`, `$id`,
/// `default`, `examples`, `definitions`, `format`) are read and ignored; what would change the verdict but is not
/// checked (`$ref`, `allOf`, `anyOf`, `oneOf`, `not`, `if`, `patternProperties`, `dependencies`, …) is refused at
/// deploy, never skipped.
indirect enum JSONSchema: Sendable {
    case any
    case nothing
    case constraints(Constraints)

    struct Constraints: Sendable {
        var types: Set<String>?
        var properties: [String: JSONSchema] = [:]
        var required: [String] = []
        var additionalProperties: JSONSchema = .any
        var items: JSONSchema?
        var enumeration: [JSONValue]?
        var constant: JSONValue?
        var minLength: Int?
        var maxLength: Int?
        var pattern: Pattern?
        var minimum: Double?
        var maximum: Double?
        var exclusiveMinimum: Double?
        var exclusiveMaximum: Double?
        var multipleOf: Double?
        var minItems: Int?
        var maxItems: Int?
        var uniqueItems = false
        var minProperties: Int?
        var maxProperties: Int?
    }

    /// A compiled `pattern` (NSRegularExpression matches from any thread).
    struct Pattern: @unchecked Sendable {
        let regex: NSRegularExpression
    }

    static let annotations: Set<String> = [
        "$schema", "$id", "id", "title", "description", "default", "examples", "definitions", "$comment", "format",
        "readOnly", "writeOnly", "contentMediaType", "contentEncoding",
    ]
    static let types: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]

    struct Invalid: Error, CustomStringConvertible {
        var path: String
        var description: String
    }

    /// Compiles a schema; throws with the JSON pointer of what it cannot check.
    static func compile(_ value: JSONValue, at pointer: String = "#") throws(Invalid) -> JSONSchema {
        switch value {
        case .bool(let bool): return bool ? .any : .nothing
        case .object(let object):
            var c = Constraints()
            for (key, child) in object.entries {
                let here = pointer + "/" + key
                func number() throws(Invalid) -> Double {
                    guard case .number(let n) = child else {
                        throw Invalid(path: here, description: "must be a number")
                    }
                    return n
                }
                func count() throws(Invalid) -> Int {
                    let n = try number()
                    guard n >= 0, n.rounded() == n, n < 1e9 else {
                        throw Invalid(path: here, description: "must be a non-negative integer")
                    }
                    return Int(n)
                }
                switch key {
                case "type":
                    let names: [String]
                    switch child {
                    case .string(let name): names = [name]
                    case .array(let items): names = items.compactMap(\.stringValue)
                    default: names = []
                    }
                    guard !names.isEmpty, names.allSatisfy(types.contains) else {
                        throw Invalid(path: here, description: "must name JSON types")
                    }
                    c.types = Set(names)
                case "properties":
                    guard case .object(let properties) = child else {
                        throw Invalid(path: here, description: "must be an object")
                    }
                    for (name, schema) in properties.entries {
                        c.properties[name] = try compile(schema, at: here + "/" + name)
                    }
                case "required":
                    guard case .array(let names) = child, names.allSatisfy({ $0.stringValue != nil }) else {
                        throw Invalid(path: here, description: "must be a list of names")
                    }
                    c.required = names.compactMap(\.stringValue)
                case "additionalProperties": c.additionalProperties = try compile(child, at: here)
                case "items":
                    guard case .array = child else {
                        c.items = try compile(child, at: here)
                        continue
                    }
                    throw Invalid(path: here, description: "tuple items are not checked by this gateway")
                case "enum":
                    guard case .array(let values) = child else {
                        throw Invalid(path: here, description: "must be an array")
                    }
                    c.enumeration = values
                case "const": c.constant = child
                case "minLength": c.minLength = try count()
                case "maxLength": c.maxLength = try count()
                case "pattern":
                    guard case .string(let pattern) = child, let regex = try? NSRegularExpression(pattern: pattern)
                    else { throw Invalid(path: here, description: "must be a regular expression") }
                    c.pattern = Pattern(regex: regex)
                case "minimum": c.minimum = try number()
                case "maximum": c.maximum = try number()
                case "exclusiveMinimum": c.exclusiveMinimum = try number()
                case "exclusiveMaximum": c.exclusiveMaximum = try number()
                case "multipleOf":
                    let n = try number()
                    guard n > 0 else { throw Invalid(path: here, description: "must be positive") }
                    c.multipleOf = n
                case "minItems": c.minItems = try count()
                case "maxItems": c.maxItems = try count()
                case "uniqueItems": c.uniqueItems = child.boolValue ?? false
                case "minProperties": c.minProperties = try count()
                case "maxProperties": c.maxProperties = try count()
                case _ where annotations.contains(key): continue
                default:
                    throw Invalid(path: here, description: "the keyword '\(key)' is not checked by this gateway")
                }
            }
            return .constraints(c)
        default:
            throw Invalid(path: pointer, description: "a schema must be an object or a boolean")
        }
    }

    /// The problems of `value` against this schema (at most `limit`), each with its JSON pointer.
    func problems(of value: JSONValue, at pointer: String = "", limit: Int = 20) -> [String] {
        var found: [String] = []
        check(value, at: pointer, into: &found, limit: limit)
        return found
    }

    private func check(_ value: JSONValue, at pointer: String, into found: inout [String], limit: Int) {
        guard found.count < limit else { return }
        let here = pointer.isEmpty ? "/" : pointer
        switch self {
        case .any: return
        case .nothing:
            found.append("\(here): no value is allowed here")
            return
        case .constraints(let c):
            if let types = c.types, !types.contains(where: { Self.value(value, isOfType: $0) }) {
                found.append("\(here): \(value.typeName) is not of type \(types.sorted().joined(separator: " or "))")
                return
            }
            if let options = c.enumeration, !options.contains(where: { Self.same($0, value) }) {
                found.append("\(here): value is not one of the enumerated values")
            }
            if let constant = c.constant, !Self.same(constant, value) {
                found.append("\(here): value is not the constant")
            }
            switch value {
            case .string(let text):
                let length = text.unicodeScalars.count
                if let min = c.minLength, length < min { found.append("\(here): shorter than \(min)") }
                if let max = c.maxLength, length > max { found.append("\(here): longer than \(max)") }
                if let regex = c.pattern?.regex,
                    regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
                {
                    found.append("\(here): does not match the pattern '\(regex.pattern)'")
                }
            case .number(let n):
                if let min = c.minimum, n < min { found.append("\(here): less than \(min)") }
                if let max = c.maximum, n > max { found.append("\(here): greater than \(max)") }
                if let min = c.exclusiveMinimum, n <= min { found.append("\(here): not greater than \(min)") }
                if let max = c.exclusiveMaximum, n >= max { found.append("\(here): not less than \(max)") }
                if let step = c.multipleOf, (n / step).rounded() != n / step {
                    found.append("\(here): not a multiple of \(step)")
                }
            case .array(let items):
                if let min = c.minItems, items.count < min { found.append("\(here): fewer than \(min) items") }
                if let max = c.maxItems, items.count > max { found.append("\(here): more than \(max) items") }
                if c.uniqueItems {
                    for (i, item) in items.enumerated() where items[..<i].contains(where: { Self.same($0, item) }) {
                        found.append("\(here): items are not unique")
                        break
                    }
                }
                if let schema = c.items {
                    for (i, item) in items.enumerated() {
                        schema.check(item, at: pointer + "/\(i)", into: &found, limit: limit)
                    }
                }
            case .object(let object):
                if let min = c.minProperties, object.count < min {
                    found.append("\(here): fewer than \(min) properties")
                }
                if let max = c.maxProperties, object.count > max {
                    found.append("\(here): more than \(max) properties")
                }
                for name in c.required where object[name] == nil {
                    found.append("\(here): the required property '\(name)' is missing")
                }
                for (name, child) in object.entries {
                    let schema = c.properties[name] ?? c.additionalProperties
                    if case .nothing = schema, c.properties[name] == nil {
                        found.append("\(here): the property '\(name)' is not allowed")
                        continue
                    }
                    schema.check(child, at: pointer + "/" + name, into: &found, limit: limit)
                }
            default: break
            }
        }
    }

    static func value(_ value: JSONValue, isOfType type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
            ("number", .number):
            return true
        case ("integer", .number(let n)): return n.rounded() == n
        default: return false
        }
    }

    /// JSON equality (object keys in any order).
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.entries.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default: return false
        }
    }
}

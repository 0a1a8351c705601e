import Foundation
import Synchronization

/// The variables an expression sees (`#request`, `#context`, `#message`, …), by name without the `#`.
public struct ExpressionScope: Sendable {
    public var variables: [String: ExpressionValue]
    /// One variable set over `variables` (see ``with(_:_:)``); it wins over a variable of the same name.
    var overlay: (name: String, value: ExpressionValue)?

    public init(_ variables: [String: ExpressionValue] = [:]) {
        self.variables = variables
    }

    /// The value of `#name`.
    public subscript(name: String) -> ExpressionValue? {
        if let overlay, overlay.name == name { return overlay.value }
        return variables[name]
    }
}

/// Why an expression could not be evaluated (SpEL's evaluation exceptions): a member of null, an index out of
/// range, an unknown method, a wrong argument, or a bound reached.
public struct ExpressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Evaluates parsed expressions safely: nothing but the values of its scope and the operations below, no
/// reflection, no calls out of the gateway, and bounded work (`maximumSteps` nodes per evaluation, `maximumTextBytes`
/// per text it makes, `maximumListCount` per list).
public struct ExpressionEvaluator: Sendable {
    /// Nodes evaluated per evaluation at most. Default: 10,000.
    public var maximumSteps = 10_000
    /// The longest text an operation may make, in UTF-8 bytes. Default: 1 MiB.
    public var maximumTextBytes = 1 << 20
    /// The most elements a list made by an operation (a split, a JSON path) may have. Default: 10,000.
    public var maximumListCount = 10_000

    public init() {}

    /// The template's value: its only expression's value as it is, else the parts as text, joined.
    public func evaluate(
        _ template: ExpressionTemplate, in scope: ExpressionScope
    ) throws(ExpressionError) -> ExpressionValue {
        if let sole = template.soleExpression { return try evaluate(sole, in: scope) }
        var run = Run(evaluator: self, scope: scope)
        var text = ""
        for part in template.parts {
            switch part {
            case .text(let value): text += value
            case .expression(let expression): text += try run.value(of: expression).text
            }
            guard text.utf8.count <= maximumTextBytes else { throw ExpressionError("text longer than the limit") }
        }
        return .string(text)
    }

    public func evaluate(_ expression: Expression, in scope: ExpressionScope) throws(ExpressionError) -> ExpressionValue
    {
        var run = Run(evaluator: self, scope: scope)
        return try run.value(of: expression)
    }

    /// A condition: true only when it evaluates to `true`.
    public func isTrue(_ template: ExpressionTemplate, in scope: ExpressionScope) throws(ExpressionError) -> Bool {
        try evaluate(template, in: scope).isTrue
    }

    /// One evaluation, with its remaining steps.
    private struct Run {
        let evaluator: ExpressionEvaluator
        let scope: ExpressionScope
        var steps: Int

        init(evaluator: ExpressionEvaluator, scope: ExpressionScope) {
            self.evaluator = evaluator
            self.scope = scope
            self.steps = evaluator.maximumSteps
        }

        mutating func value(of expression: Expression) throws(ExpressionError) -> ExpressionValue {
            steps -= 1
            guard steps >= 0 else { throw ExpressionError("more than \(evaluator.maximumSteps) steps") }
            switch expression {
            case .literal(let value):
                return value
            case .variable(let name):
                guard let value = scope[name] else { throw ExpressionError("unknown variable #\(name)") }
                return value
            case .member(let target, let name, let safe):
                let base = try value(of: target)
                if base.isNull {
                    if safe { return .null }
                    throw ExpressionError("property '\(name)' of null")
                }
                return member(name, of: base)
            case .index(let target, let key, let safe):
                let base = try value(of: target)
                if base.isNull {
                    if safe { return .null }
                    throw ExpressionError("index into null")
                }
                return try entry(try value(of: key), of: base)
            case .method(let target, let name, let arguments, let safe):
                let base = try value(of: target)
                if base.isNull {
                    if safe { return .null }
                    throw ExpressionError("method '\(name)' called on null")
                }
                var values: [ExpressionValue] = []
                for argument in arguments { values.append(try value(of: argument)) }
                return try call(name, on: base, values)
            case .function("jsonPath", let arguments) where arguments.count == 2:
                return try jsonPath(arguments[0], arguments[1])
            case .function(let name, let arguments):
                var values: [ExpressionValue] = []
                for argument in arguments { values.append(try value(of: argument)) }
                return try function(name, values)
            case .list(let items):
                var values: [ExpressionValue] = []
                for item in items { values.append(try value(of: item)) }
                return .list(values)
            case .unary(.not, let operand):
                guard case .bool(let bool) = try value(of: operand) else {
                    throw ExpressionError("'!' needs a boolean")
                }
                return .bool(!bool)
            case .unary(.negate, let operand):
                switch try value(of: operand) {
                case .int(let int): return int == .min ? .double(-Double(int)) : .int(-int)
                case .double(let double): return .double(-double)
                default: throw ExpressionError("'-' needs a number")
                }
            case .binary(.and, let left, let right):
                // Short-circuit, as SpEL's `and`.
                guard try boolean(try value(of: left), "&&") else { return .bool(false) }
                return .bool(try boolean(try value(of: right), "&&"))
            case .binary(.or, let left, let right):
                if try boolean(try value(of: left), "||") { return .bool(true) }
                return .bool(try boolean(try value(of: right), "||"))
            case .binary(let op, let left, let right):
                return try binary(op, try value(of: left), try value(of: right))
            case .conditional(let condition, let then, let otherwise):
                return try boolean(try value(of: condition), "?:") ? try value(of: then) : try value(of: otherwise)
            case .elvis(let candidate, let fallback):
                let candidate = try value(of: candidate)
                if candidate.isNull || candidate == .string("") { return try value(of: fallback) }
                return candidate
            }
        }

        func boolean(_ value: ExpressionValue, _ op: String) throws(ExpressionError) -> Bool {
            guard case .bool(let bool) = value else { throw ExpressionError("'\(op)' needs booleans") }
            return bool
        }

        func member(_ name: String, of base: ExpressionValue) -> ExpressionValue {
            switch base {
            case .map(let map): return map[name] ?? .null
            case .object(let object): return object.member(name)
            case .string(let string) where name == "length": return .int(Int64(string.count))
            case .list(let list) where name == "size" || name == "length": return .int(Int64(list.count))
            default: return .null
            }
        }

        func entry(_ key: ExpressionValue, of base: ExpressionValue) throws(ExpressionError) -> ExpressionValue {
            switch (base, key) {
            case (.list(let list), .int(let index)):
                guard index >= 0, index < list.count else {
                    throw ExpressionError("index \(index) out of range of \(list.count) elements")
                }
                return list[Int(index)]
            case (.string(let string), .int(let index)):
                guard index >= 0, index < string.count else {
                    throw ExpressionError("index \(index) out of range of \(string.count) characters")
                }
                return .string(String(string[string.index(string.startIndex, offsetBy: Int(index))]))
            case (.map(let map), _):
                return map[key.text] ?? .null
            case (.object(let object), _):
                return object.entry(key)
            default:
                throw ExpressionError("cannot index this value with \(key.text)")
            }
        }

        func binary(
            _ op: Expression.BinaryOperator, _ left: ExpressionValue, _ right: ExpressionValue
        ) throws(ExpressionError) -> ExpressionValue {
            switch op {
            case .equal: return .bool(left == right)
            case .notEqual: return .bool(left != right)
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                let order = try compare(left, right)
                switch op {
                case .less: return .bool(order < 0)
                case .lessOrEqual: return .bool(order <= 0)
                case .greater: return .bool(order > 0)
                default: return .bool(order >= 0)
                }
            case .matches:
                guard case .string(let text) = left, case .string(let pattern) = right else {
                    throw ExpressionError("'matches' needs a text and a pattern")
                }
                return .bool(try RegexCache.shared.matches(text, pattern))
            case .plus:
                if case .string = left { return try text(left.text + right.text) }
                if case .string = right { return try text(left.text + right.text) }
                return try arithmetic(op, left, right)
            default:
                return try arithmetic(op, left, right)
            }
        }

        func text(_ value: String) throws(ExpressionError) -> ExpressionValue {
            guard value.utf8.count <= evaluator.maximumTextBytes else {
                throw ExpressionError("text longer than the limit")
            }
            return .string(value)
        }

        func compare(_ left: ExpressionValue, _ right: ExpressionValue) throws(ExpressionError) -> Int {
            switch (left, right) {
            case (.string(let a), .string(let b)): return a < b ? -1 : (a == b ? 0 : 1)
            default:
                guard let a = Self.number(left), let b = Self.number(right) else {
                    throw ExpressionError("cannot compare \(left.text) with \(right.text)")
                }
                return a < b ? -1 : (a == b ? 0 : 1)
            }
        }

        static func number(_ value: ExpressionValue) -> Double? {
            switch value {
            case .int(let int): Double(int)
            case .double(let double): double
            default: nil
            }
        }

        func arithmetic(
            _ op: Expression.BinaryOperator, _ left: ExpressionValue, _ right: ExpressionValue
        ) throws(ExpressionError) -> ExpressionValue {
            if case .int(let a) = left, case .int(let b) = right {
                let result: (Int64, Bool)
                switch op {
                case .plus: result = a.addingReportingOverflow(b)
                case .minus: result = a.subtractingReportingOverflow(b)
                case .times: result = a.multipliedReportingOverflow(by: b)
                case .divide, .remainder:
                    guard b != 0 else { throw ExpressionError("division by zero") }
                    result =
                        op == .divide ? a.dividedReportingOverflow(by: b) : a.remainderReportingOverflow(dividingBy: b)
                default: throw ExpressionError("'\(op.rawValue)' is not arithmetic")
                }
                if !result.1 { return .int(result.0) }
            }
            guard let a = Self.number(left), let b = Self.number(right) else {
                throw ExpressionError("'\(op.rawValue)' needs numbers")
            }
            switch op {
            case .plus: return .double(a + b)
            case .minus: return .double(a - b)
            case .times: return .double(a * b)
            case .divide: return .double(a / b)
            case .remainder: return .double(a.truncatingRemainder(dividingBy: b))
            default: throw ExpressionError("'\(op.rawValue)' is not arithmetic")
            }
        }

        func call(
            _ name: String, on base: ExpressionValue, _ arguments: [ExpressionValue]
        ) throws(ExpressionError) -> ExpressionValue {
            if name == "toString", arguments.isEmpty { return try text(base.text) }
            if name == "equals", arguments.count == 1 { return .bool(base == arguments[0]) }
            switch base {
            case .string(let string):
                return try stringMethod(name, string, arguments)
            case .list(let list):
                switch (name, arguments.count) {
                case ("size", 0): return .int(Int64(list.count))
                case ("isEmpty", 0): return .bool(list.isEmpty)
                case ("contains", 1): return .bool(list.contains(arguments[0]))
                case ("get", 1): return try entry(arguments[0], of: base)
                case ("indexOf", 1): return .int(Int64(list.firstIndex(of: arguments[0]) ?? -1))
                default: break
                }
            case .map(let map):
                switch (name, arguments.count) {
                case ("get", 1): return map[arguments[0].text] ?? .null
                case ("containsKey", 1): return .bool(map[arguments[0].text] != nil)
                case ("size", 0): return .int(Int64(map.count))
                case ("isEmpty", 0): return .bool(map.isEmpty)
                case ("keySet", 0): return .list(map.keys.sorted().map(ExpressionValue.string))
                default: break
                }
            case .object(let object):
                if let result = object.call(name, arguments) { return result }
            default:
                break
            }
            throw ExpressionError("no method '\(name)' with \(arguments.count) arguments on \(base.text)")
        }

        func stringMethod(
            _ name: String, _ string: String, _ arguments: [ExpressionValue]
        ) throws(ExpressionError) -> ExpressionValue {
            func argument(_ index: Int) throws(ExpressionError) -> String {
                guard index < arguments.count, case .string(let value) = arguments[index] else {
                    throw ExpressionError("'\(name)' needs a text argument")
                }
                return value
            }
            func integer(_ index: Int) throws(ExpressionError) -> Int {
                guard index < arguments.count, case .int(let value) = arguments[index] else {
                    throw ExpressionError("'\(name)' needs a whole number argument")
                }
                return Int(clamping: value)
            }
            switch (name, arguments.count) {
            case ("length", 0): return .int(Int64(string.count))
            case ("isEmpty", 0): return .bool(string.isEmpty)
            case ("isBlank", 0): return .bool(string.allSatisfy(\.isWhitespace))
            case ("contains", 1): return .bool(string.contains(try argument(0)))
            case ("startsWith", 1): return .bool(string.hasPrefix(try argument(0)))
            case ("endsWith", 1): return .bool(string.hasSuffix(try argument(0)))
            case ("matches", 1): return .bool(try RegexCache.shared.matches(string, try argument(0)))
            case ("equalsIgnoreCase", 1): return .bool(string.lowercased() == (try argument(0)).lowercased())
            case ("toUpperCase", 0): return .string(string.uppercased())
            case ("toLowerCase", 0): return .string(string.lowercased())
            case ("trim", 0): return .string(string.trimmingCharacters(in: .whitespacesAndNewlines))
            case ("concat", 1): return try text(string + (try argument(0)))
            case ("indexOf", 1):
                guard let range = string.range(of: try argument(0)) else { return .int(-1) }
                return .int(Int64(string.distance(from: string.startIndex, to: range.lowerBound)))
            case ("lastIndexOf", 1):
                guard let range = string.range(of: try argument(0), options: .backwards) else { return .int(-1) }
                return .int(Int64(string.distance(from: string.startIndex, to: range.lowerBound)))
            case ("substring", 1), ("substring", 2):
                let count = string.count
                let start = try integer(0)
                let end = arguments.count == 2 ? try integer(1) : count
                guard start >= 0, end <= count, start <= end else {
                    throw ExpressionError("substring(\(start), \(end)) out of range of \(count) characters")
                }
                let from = string.index(string.startIndex, offsetBy: start)
                return .string(String(string[from..<string.index(from, offsetBy: end - start)]))
            case ("replace", 2):
                let target = try argument(0)
                guard !target.isEmpty else { return .string(string) }
                return try text(string.replacingOccurrences(of: target, with: try argument(1)))
            case ("split", 1):
                // Java's split takes a pattern; a plain separator is what definitions use, and what this takes.
                let parts = string.components(separatedBy: try argument(0))
                guard parts.count <= evaluator.maximumListCount else { throw ExpressionError("too many parts") }
                return .list(parts.map(ExpressionValue.string))
            case ("charAt", 1): return try entry(.int(Int64(try integer(0))), of: .string(string))
            default:
                throw ExpressionError("no method '\(name)' with \(arguments.count) arguments on a text")
            }
        }

        /// `#jsonPath(value, path)`. On a member an object holds as bytes (`#message.content`), the path reads those
        /// bytes in place: the same answer as on the member's text, without making the text.
        mutating func jsonPath(_ source: Expression, _ path: Expression) throws(ExpressionError) -> ExpressionValue {
            guard case .member(let target, let name, let safe) = source else {
                let value = try value(of: source)
                return try function("jsonPath", [value, try self.value(of: path)])
            }
            steps -= 1
            guard steps >= 0 else { throw ExpressionError("more than \(evaluator.maximumSteps) steps") }
            let base = try value(of: target)
            if case .object(let object) = base, let bytes = object.bytes(of: name) {
                guard case .string(let text) = try value(of: path) else {
                    throw ExpressionError("#jsonPath needs a path as its second argument")
                }
                return try JSONPathQuery.evaluate(text, onBytes: bytes, limit: evaluator.maximumListCount)
            }
            let first: ExpressionValue
            if base.isNull {
                guard safe else { throw ExpressionError("property '\(name)' of null") }
                first = .null
            } else {
                first = member(name, of: base)
            }
            return try function("jsonPath", [first, try value(of: path)])
        }

        func function(_ name: String, _ arguments: [ExpressionValue]) throws(ExpressionError) -> ExpressionValue {
            switch (name, arguments.count) {
            case ("jsonPath", 2):
                guard case .string(let path) = arguments[1] else {
                    throw ExpressionError("#jsonPath needs a path as its second argument")
                }
                return try JSONPathQuery.evaluate(path, on: arguments[0], limit: evaluator.maximumListCount)
            default:
                throw ExpressionError("unknown function #\(name) with \(arguments.count) arguments")
            }
        }
    }
}

/// Compiled patterns of `matches`, kept by pattern (bounded), so a definition's pattern is compiled once.
final class RegexCache: Sendable {
    static let shared = RegexCache()
    /// Patterns kept. Default: 256.
    static let capacity = 256

    private let patterns = Mutex<[String: NSRegularExpression]>([:])

    func matches(_ text: String, _ pattern: String) throws(ExpressionError) -> Bool {
        let regex: NSRegularExpression
        if let cached = patterns.withLock({ $0[pattern] }) {
            regex = cached
        } else {
            do {
                // Java's `matches` is a whole match.
                regex = try NSRegularExpression(pattern: "^(?:\(pattern))$")
            } catch {
                throw ExpressionError("invalid pattern '\(pattern)'")
            }
            patterns.withLock { patterns in
                if patterns.count >= Self.capacity { patterns.removeAll() }
                patterns[pattern] = regex
            }
        }
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex.firstMatch(in: text, options: [], range: range) != nil
    }
}

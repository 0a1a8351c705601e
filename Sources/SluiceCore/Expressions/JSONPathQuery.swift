import Foundation
import NIOCore
import Synchronization

/// `#jsonPath(value, path)`: the part of JSONPath that definitions use — `$`, `.name`, `['name']`, `[n]` (negative
/// from the end), `[*]` and `.*`, and `..name` (at any depth). A definite path gives its value (null when absent);
/// a path with a wildcard or `..` gives the list of what it found. The value is JSON text (a message's content) or
/// an already structured value.
enum JSONPathQuery {
    enum Step: Equatable, Sendable {
        case child(String)
        case index(Int)
        case wildcard
        case descendant(String)
    }

    static func evaluate(
        _ path: String, on value: ExpressionValue, limit: Int
    ) throws(ExpressionError) -> ExpressionValue {
        let steps = try PathCache.shared.steps(path)
        // A message filter's path on a message's content: a scan of the text, no document built (see scan(_:in:)).
        if case .string(let text) = value, let found = try scan(steps, in: text) { return found }
        return try evaluate(steps, on: value, limit: limit)
    }

    /// The path's value on JSON text given as bytes (a message's content, read in place): the same answer as on
    /// the text made from them.
    static func evaluate(
        _ path: String, onBytes bytes: ByteBuffer, limit: Int
    ) throws(ExpressionError) -> ExpressionValue {
        let steps = try PathCache.shared.steps(path)
        let scanned: Result<ExpressionValue?, ExpressionError> = bytes.withUnsafeReadableBytes { raw in
            do throws(ExpressionError) {
                return .success(try scan(steps, in: raw.bindMemory(to: UInt8.self)))
            } catch {
                return .failure(error)
            }
        }
        if let found = try scanned.get() { return found }
        return try evaluate(steps, on: .string(String(decoding: bytes.readableBytesView, as: UTF8.self)), limit: limit)
    }

    /// The path's value on the document `value` holds, built in full.
    static func evaluate(
        _ steps: [Step], on value: ExpressionValue, limit: Int
    ) throws(ExpressionError) -> ExpressionValue {
        let document: JSONValue
        switch value {
        case .string(let text):
            do {
                document = try JSONValue.parse(json: Data(text.utf8))
            } catch {
                throw ExpressionError("#jsonPath: the value is not JSON")
            }
        case .null:
            return .null
        default:
            document = json(value)
        }
        var current = [document]
        var definite = true
        for step in steps {
            var next: [JSONValue] = []
            for node in current {
                switch step {
                case .child(let name):
                    if let child = node.objectValue?[name] { next.append(child) }
                case .index(let index):
                    if let array = node.arrayValue {
                        let position = index < 0 ? array.count + index : index
                        if position >= 0, position < array.count { next.append(array[position]) }
                    }
                case .wildcard:
                    definite = false
                    if let array = node.arrayValue { next.append(contentsOf: array) }
                    if let object = node.objectValue { next.append(contentsOf: object.entries.map(\.value)) }
                case .descendant(let name):
                    definite = false
                    collect(name, in: node, into: &next, limit: limit)
                }
                guard next.count <= limit else { throw ExpressionError("#jsonPath: more than \(limit) results") }
            }
            current = next
        }
        if definite { return current.first.map(expressionValue) ?? .null }
        return .list(current.map(expressionValue))
    }

    /// Parsed paths, kept by text (bounded): a definition's filter parses its path once, not at each message.
    final class PathCache: Sendable {
        static let shared = PathCache()
        /// Paths kept. Default: 256.
        static let capacity = 256

        private let paths = Mutex<[String: [Step]]>([:])

        func steps(_ path: String) throws(ExpressionError) -> [Step] {
            if let steps = paths.withLock({ $0[path] }) { return steps }
            let steps = try JSONPathQuery.parse(path)
            paths.withLock { paths in
                if paths.count >= Self.capacity { paths.removeAll() }
                paths[path] = steps
            }
            return steps
        }
    }

    private static func collect(_ name: String, in node: JSONValue, into found: inout [JSONValue], limit: Int) {
        guard found.count <= limit else { return }
        if let object = node.objectValue {
            if let match = object[name] { found.append(match) }
            for (_, child) in object.entries { collect(name, in: child, into: &found, limit: limit) }
        } else if let array = node.arrayValue {
            for child in array { collect(name, in: child, into: &found, limit: limit) }
        }
    }

    static func parse(_ path: String) throws(ExpressionError) -> [Step] {
        let chars = Array(path.unicodeScalars)
        guard chars.first == "$" else { throw ExpressionError("#jsonPath: a path starts with '$'") }
        var steps: [Step] = []
        var index = 1
        func name() -> String {
            var name = ""
            while index < chars.count, chars[index] != ".", chars[index] != "[" {
                name.unicodeScalars.append(chars[index])
                index += 1
            }
            return name
        }
        while index < chars.count {
            if chars[index] == ".", index + 1 < chars.count, chars[index + 1] == "." {
                index += 2
                let child = name()
                guard !child.isEmpty else { throw ExpressionError("#jsonPath: a name must follow '..'") }
                steps.append(.descendant(child))
            } else if chars[index] == "." {
                index += 1
                let child = name()
                guard !child.isEmpty else { throw ExpressionError("#jsonPath: a name must follow '.'") }
                steps.append(child == "*" ? .wildcard : .child(child))
            } else if chars[index] == "[" {
                guard let close = chars[index...].firstIndex(of: "]") else {
                    throw ExpressionError("#jsonPath: '[' without ']'")
                }
                let inner = String(String.UnicodeScalarView(chars[(index + 1)..<close]))
                    .trimmingCharacters(in: .whitespaces)
                index = close + 1
                if inner == "*" {
                    steps.append(.wildcard)
                } else if let position = Int(inner) {
                    steps.append(.index(position))
                } else if inner.count >= 2, let quote = inner.first, quote == "'" || quote == "\"", inner.last == quote
                {
                    steps.append(.child(String(inner.dropFirst().dropLast())))
                } else {
                    throw ExpressionError("#jsonPath: unsupported selector [\(inner)]")
                }
            } else {
                throw ExpressionError("#jsonPath: unexpected '\(chars[index])' in \(path)")
            }
        }
        return steps
    }

    static func expressionValue(_ json: JSONValue) -> ExpressionValue {
        switch json {
        case .null: .null
        case .bool(let bool): .bool(bool)
        case .number(let number):
            number == number.rounded() && abs(number) < 9e15 ? .int(Int64(number)) : .double(number)
        case .string(let string): .string(string)
        case .array(let array): .list(array.map(expressionValue))
        case .object(let object):
            .map(
                Dictionary(object.entries.map { ($0.key, expressionValue($0.value)) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    static func json(_ value: ExpressionValue) -> JSONValue {
        switch value {
        case .null, .object: .null
        case .bool(let bool): .bool(bool)
        case .int(let int): .number(Double(int))
        case .double(let double): .number(double)
        case .string(let string): .string(string)
        case .list(let list): .array(list.map(json))
        case .map(let map):
            .object(JSONObject(map.keys.sorted().map { ($0, json(map[$0]!)) }))
        }
    }
}

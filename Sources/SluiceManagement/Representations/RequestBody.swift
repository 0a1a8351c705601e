import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// Reads a request's JSON body and its fields, collecting every problem with its JSON path instead of stopping
/// at the first.
struct RequestBody {
    let object: JSONObject
    var problems: [ManagementProblem.FieldProblem] = []

    init(_ object: JSONObject) { self.object = object }

    /// The body of `request` as a JSON value (at most `limit` bytes); a problem when it is empty, too large or not
    /// JSON.
    static func value(of request: Request, limit: Int) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { throw ManagementProblem.invalid(path: "", "a JSON body is required") }
        do {
            return try JSONValue.parse(json: Data(buffer.readableBytesView))
        } catch let error as JSONSyntaxError {
            throw ManagementProblem.invalid(path: "", error.description)
        } catch {
            throw ManagementProblem.invalid(path: "", "the body is not JSON")
        }
    }

    /// The body of `request` as a JSON object.
    static func object(of request: Request, limit: Int) async throws -> RequestBody {
        let value = try await value(of: request, limit: limit)
        guard case .object(let object) = value else {
            throw ManagementProblem.invalid(path: "", "must be a JSON object, not \(value.typeName)")
        }
        return RequestBody(object)
    }

    /// The body when there is one (actions take an optional body); an empty object otherwise.
    static func optionalObject(of request: Request, limit: Int) async throws -> RequestBody {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { return RequestBody(JSONObject()) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(json: Data(buffer.readableBytesView))
        } catch {
            throw ManagementProblem.invalid(path: "", "\(error)")
        }
        guard case .object(let object) = value else {
            throw ManagementProblem.invalid(path: "", "must be a JSON object, not \(value.typeName)")
        }
        return RequestBody(object)
    }

    mutating func problem(_ path: String, _ message: String) {
        problems.append(.init(path: path, message: message))
    }

    /// Throws every problem found so far, if any.
    func check(_ what: String) throws {
        if !problems.isEmpty { throw ManagementProblem.invalid("the \(what) is not valid", problems) }
    }

    mutating func string(
        _ key: String, required: Bool = false, maximumLength: Int = 1000, path: String? = nil
    ) -> String? {
        let path = path ?? key
        guard let value = object[key], !value.isNull else {
            if required { problem(path, "is required") }
            return nil
        }
        guard let text = value.stringValue else {
            problem(path, "must be a string, not \(value.typeName)")
            return nil
        }
        if required, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            problem(path, "must not be empty")
            return nil
        }
        if text.count > maximumLength {
            problem(path, "must be at most \(maximumLength) characters")
            return nil
        }
        return text
    }

    mutating func objectValue(_ key: String, required: Bool = false) -> JSONObject? {
        guard let value = object[key], !value.isNull else {
            if required { problem(key, "is required") }
            return nil
        }
        guard let result = value.objectValue else {
            problem(key, "must be an object, not \(value.typeName)")
            return nil
        }
        return result
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(
        _ key: String, _ type: E.Type, required: Bool = false
    ) -> E? where E.RawValue == String {
        guard let text = string(key, required: required) else { return nil }
        guard let value = E(rawValue: text.uppercased()) else {
            problem(key, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return value
    }

    /// A date in ISO 8601 (`2026-01-31T12:00:00Z`) or milliseconds since 1970 (Gravitee writes both).
    mutating func date(_ key: String) -> Date? {
        guard let value = object[key], !value.isNull else { return nil }
        switch value {
        case .string(let text):
            if let date = Dates.parse(text) { return date }
            problem(key, "must be an ISO 8601 date and time")
        case .number(let number) where number.isFinite && abs(number) < 1e15:
            return Date(timeIntervalSince1970: number / 1000)
        default:
            problem(key, "must be an ISO 8601 date and time, not \(value.typeName)")
        }
        return nil
    }

    /// An object of strings (subscription metadata).
    mutating func stringMap(_ key: String) -> [String: String]? {
        guard let object = objectValue(key) else { return nil }
        var map: [String: String] = [:]
        for (name, value) in object.entries {
            guard let text = value.stringValue else {
                problem("\(key).\(name)", "must be a string, not \(value.typeName)")
                continue
            }
            map[name] = text
        }
        return map
    }
}

/// Query parameters, read with the same care as bodies.
struct QueryReader {
    let request: Request
    var problems: [ManagementProblem.FieldProblem] = []

    init(_ request: Request) { self.request = request }

    func string(_ name: String) -> String? {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }

    mutating func integer(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
        guard let text = string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            problems.append(
                .init(path: name, message: "must be an integer from \(range.lowerBound) to \(range.upperBound)"))
            return value
        }
        return number
    }

    mutating func bool(_ name: String) -> Bool? {
        guard let text = string(name) else { return nil }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default:
            problems.append(.init(path: name, message: "must be true or false"))
            return nil
        }
    }

    /// Comma-separated values (`applicationIds=a,b`), as Gravitee's list filters take them.
    func list(_ name: String) -> Set<String> {
        guard let text = string(name) else { return [] }
        return Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// Comma-separated values of an enumeration (`statuses=ACCEPTED,PAUSED`).
    mutating func enumerations<E: RawRepresentable & CaseIterable & Hashable>(
        _ name: String, _ type: E.Type
    ) -> Set<E> where E.RawValue == String {
        guard let text = string(name) else { return [] }
        var values = Set<E>()
        for part in text.split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces).uppercased()
            if let value = E(rawValue: item) {
                values.insert(value)
            } else {
                problems.append(
                    .init(
                        path: name,
                        message: "must be one or more of \(E.allCases.map(\.rawValue).joined(separator: ", "))"))
                return []
            }
        }
        return values
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ name: String, _ type: E.Type) -> E?
    where E.RawValue == String {
        guard let text = string(name) else { return nil }
        guard let value = E(rawValue: text.uppercased()) else {
            problems.append(
                .init(path: name, message: "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))"))
            return nil
        }
        return value
    }

    /// Gravitee's `page` (from 1) and `perPage` (1…1000, default 10).
    mutating func page() -> PageRequestValue {
        let perPage = integer("perPage", default: 10, range: 1...1000)
        // Bounded so that the offset (page - 1) × perPage stays far from overflowing.
        let page = integer("page", default: 1, range: 1...1_000_000)
        return PageRequestValue(page: page, perPage: perPage)
    }

    func check() throws {
        if !problems.isEmpty { throw ManagementProblem.invalid("the query parameters are not valid", problems) }
    }
}

struct PageRequestValue {
    var page: Int
    var perPage: Int
}

enum Dates {
    // Format styles are values, cheap to share; a formatter object per call costs more than the rest of a read.
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    static let whole = Date.ISO8601FormatStyle()

    static func parse(_ text: String) -> Date? {
        (try? fractional.parse(text)) ?? (try? whole.parse(text))
    }

    static func text(_ date: Date) -> String { fractional.format(date) }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import SluiceCore
import Yams

/// A client of the management API (what `sluice apis|apps|subscriptions|keys` use): JSON in and out, problem
/// details turned into ``ManagementClientError``.
public struct ManagementClient: Sendable {
    /// The server, e.g. `http://127.0.0.1:8083`.
    public var server: String
    public var token: String?
    /// How long one request may take. Default: 30 s.
    public var timeout: Duration = .seconds(30)

    public init(server: String, token: String?) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
    }

    public static let environment = "/management/v2/environments/DEFAULT"

    /// Sends a request; returns the answer's JSON (nil for an empty answer), or throws the problem the server
    /// answered with.
    public func send(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> JSONValue? {
        guard URL(string: server + path) != nil, server.hasPrefix("http://") || server.hasPrefix("https://") else {
            throw ManagementClientError(message: "--server must be an http:// or https:// URL, not '\(server)'")
        }
        var request = HTTPClientRequest(url: server + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Accept", value: "application/json, application/problem+json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.jsonText()))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(
                request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw ManagementClientError(message: "cannot reach the management API at \(server): \(error)")
        }
        let value = bytes.readableBytes == 0 ? nil : try? JSONValue.parse(json: Data(bytes.readableBytesView))
        guard (200..<300).contains(Int(response.status.code)) else {
            throw ManagementClientError(status: Int(response.status.code), problem: value, raw: String(buffer: bytes))
        }
        return value
    }

    /// Reads a definition file (JSON, or YAML for a `.yaml`/`.yml` name) as JSON.
    public static func readDefinition(file path: String) throws -> JSONValue {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ManagementClientError(message: "cannot read \(path): \(error.localizedDescription)")
        }
        let lowered = path.lowercased()
        do {
            if lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") {
                guard let text = String(data: data, encoding: .utf8) else {
                    throw ManagementClientError(message: "\(path) is not UTF-8 text")
                }
                return JSONValue.fromYAML(try Yams.load(yaml: text))
            }
            return try JSONValue.parse(json: data)
        } catch let error as ManagementClientError {
            throw error
        } catch {
            throw ManagementClientError(message: "\(path) is not valid: \(error)")
        }
    }
}

/// What went wrong with a management request, printed for people: the problem detail's title, detail and each
/// problem on its own line.
public struct ManagementClientError: Error, CustomStringConvertible, Sendable {
    public var status: Int?
    public var message: String

    public init(message: String) {
        self.status = nil
        self.message = message
    }

    init(status: Int, problem: JSONValue?, raw: String) {
        self.status = status
        guard let problem, let title = problem["title"]?.stringValue else {
            self.message = "HTTP \(status)" + (raw.isEmpty ? "" : ": \(raw.prefix(500))")
            return
        }
        var text = "\(title) (HTTP \(status))"
        if let detail = problem["detail"]?.stringValue { text += ": \(detail)" }
        for item in problem["problems"]?.arrayValue ?? [] {
            let path = item["path"]?.stringValue ?? ""
            text += "\n  - \(path.isEmpty ? "$" : path): \(item["message"]?.stringValue ?? "")"
        }
        self.message = text
    }

    public var description: String { message }
}

/// Prints answers as JSON or as a table of chosen columns.
public enum ManagementOutput {
    /// The value of a field at a dotted path (`plan.id`, `settings.app.client_id`), as text.
    public static func field(_ value: JSONValue, _ path: String) -> String {
        var current: JSONValue? = value
        for part in path.split(separator: ".") {
            // A field of an array is the field of each item (`apiKeys.key`).
            if case .array(let items)? = current {
                current = .array(items.compactMap { $0[String(part)] })
            } else {
                current = current?[String(part)]
            }
        }
        switch current {
        case nil, .null?: return ""
        case .string(let text)?: return text
        case .array(let items)?:
            return items.map { $0["id"]?.stringValue ?? $0.stringValue ?? $0.jsonText() }.joined(separator: ",")
        case let other?: return other.jsonText()
        }
    }

    /// A table of `columns` (header, dotted path) for a list answer (`data`) or one object.
    public static func table(_ value: JSONValue, columns: [(String, String)]) -> String {
        let items = value["data"]?.arrayValue ?? [value]
        let rows = [columns.map { $0.0.uppercased() }] + items.map { item in columns.map { field(item, $0.1) } }
        var widths = Array(repeating: 0, count: columns.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        var lines = rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        if let pagination = value["pagination"] {
            lines.append(
                "page \(field(pagination, "page")) of \(field(pagination, "pageCount")), \(field(pagination, "totalCount")) in all"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// Indented JSON, keys sorted.
    public static func json(_ value: JSONValue) -> String {
        guard
            let object = try? JSONSerialization.jsonObject(
                with: Data(value.jsonText().utf8), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        else { return value.jsonText() }
        return String(decoding: data, as: UTF8.self)
    }
}

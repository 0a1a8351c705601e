public import Foundation
import Yams

/// Reads access files: the applications, subscriptions and API keys that sit next to the API definitions, so that
/// one directory is a whole gateway.
///
/// An access file is recognized by its name, `<anything>.access.yaml`, `.access.yml` or `.access.json`; the
/// definition loader never reads such a file as an API. Its top level holds `applications`, `subscriptions` and
/// `apiKeys`, each an array (see docs/security.md). A key given in clear (`key`) is hashed at once and the clear
/// text dropped; `keyHash: "sha256:<hex>"` gives the digest directly.
public struct AccessFileReader: Sendable {
    /// What an access file's name ends with (compared without regard to case).
    public static let nameSuffixes = [".access.yaml", ".access.yml", ".access.json"]

    /// Files larger than this are refused before parsing. Default: 8 MiB.
    public var maximumFileSize: Int
    /// Which webhook callback URLs subscriptions may name. Default: any http(s) URL without credentials.
    public var callbackPolicy: WebhookCallbackPolicy

    public init(maximumFileSize: Int = 8 << 20, callbackPolicy: WebhookCallbackPolicy = .init()) {
        self.maximumFileSize = maximumFileSize
        self.callbackPolicy = callbackPolicy
    }

    public static func isAccessFile(_ path: String) -> Bool {
        let lowered = path.lowercased()
        return nameSuffixes.contains { lowered.hasSuffix($0) }
    }

    /// Parses an access file's text; the data is nil when there is any error (the file is then refused whole).
    public func read(data: Data, source: String) -> (data: AccessData?, diagnostics: [Diagnostic]) {
        if data.count > maximumFileSize {
            return (
                nil, [Diagnostic(path: "", message: "file is larger than \(maximumFileSize) bytes", code: "TOO_LARGE")]
            )
        }
        let value: JSONValue
        do {
            let lowered = source.lowercased()
            if lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") {
                guard let text = String(data: data, encoding: .utf8) else {
                    return (nil, [Diagnostic(path: "", message: "file is not valid UTF-8", code: "SYNTAX_ERROR")])
                }
                value = JSONValue.fromYAML(try Yams.load(yaml: text))
            } else {
                value = try JSONValue.parse(json: data)
            }
        } catch let error as JSONSyntaxError {
            return (nil, [Diagnostic(path: "", message: error.description, code: "SYNTAX_ERROR")])
        } catch {
            return (nil, [Diagnostic(path: "", message: "invalid YAML: \(error)", code: "SYNTAX_ERROR")])
        }
        return read(value)
    }

    /// Validates an already-parsed access file.
    public func read(_ value: JSONValue) -> (data: AccessData?, diagnostics: [Diagnostic]) {
        var diagnostics = DiagnosticCollector()
        guard case .object(let object) = value else {
            diagnostics.error(JSONPath(), "an access file must be an object, found \(value.typeName)")
            return (nil, diagnostics.diagnostics)
        }
        let root = ConfigurationReader(object, at: JSONPath())
        root.warnUnknown(["applications", "subscriptions", "apiKeys"], &diagnostics)
        var data = AccessData()
        var seen = Set<String>()
        for (item, path) in root.array("applications", &diagnostics) {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            guard let id = uniqueID(reader, kind: "application", &seen, &diagnostics) else { continue }
            data.applications.append(
                .init(
                    id: id, name: reader.string("name", &diagnostics) ?? id,
                    clientID: reader.string("clientId", &diagnostics)))
            reader.warnUnknown(["id", "name", "clientId", "description"], &diagnostics)
        }
        seen = []
        for (item, path) in root.array("subscriptions", &diagnostics) {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            reader.warnUnknown(
                ["id", "application", "api", "plan", "status", "startingAt", "endingAt", "metadata", "configuration"],
                &diagnostics)
            let id = uniqueID(reader, kind: "subscription", &seen, &diagnostics)
            let application = reader.string("application", &diagnostics, required: true)
            let api = reader.string("api", &diagnostics, required: true)
            let plan = reader.string("plan", &diagnostics, required: true)
            var status = AccessData.Subscription.Status.accepted
            if let text = reader.string("status", &diagnostics, required: true) {
                if let parsed = AccessData.Subscription.Status(rawValue: text.uppercased()) {
                    status = parsed
                } else {
                    let allowed = AccessData.Subscription.Status.allCases.map(\.rawValue).joined(separator: ", ")
                    diagnostics.error(path.key("status"), "must be one of \(allowed)")
                }
            }
            let startingAt = date(reader, "startingAt", &diagnostics)
            let endingAt = date(reader, "endingAt", &diagnostics)
            if let startingAt, let endingAt, endingAt <= startingAt {
                diagnostics.error(path.key("endingAt"), "must be after startingAt")
            }
            var metadata: [String: String] = [:]
            for (key, value) in reader.object("metadata", &diagnostics).object.entries {
                if case .string(let text) = value {
                    metadata[key] = text
                } else {
                    metadata[key] = value.jsonText()
                }
            }
            // A push subscription's configuration (Gravitee's `configuration` of a webhook subscription).
            var webhook: WebhookSubscriptionConfiguration?
            if reader.has("configuration") {
                let configuration = reader.object("configuration", &diagnostics)
                webhook = WebhookSubscriptionConfiguration.parse(
                    configuration.object, at: configuration.path, policy: callbackPolicy, diagnostics: &diagnostics)
            }
            guard let id, let application, let api, let plan else { continue }
            data.subscriptions.append(
                .init(
                    id: id, application: application, api: api, plan: plan, status: status, startingAt: startingAt,
                    endingAt: endingAt, metadata: metadata, webhook: webhook))
        }
        for (item, path) in root.array("apiKeys", &diagnostics) {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            reader.warnUnknown(["key", "keyHash", "subscriptions", "expireAt", "revoked", "id"], &diagnostics)
            let hash: APIKeyHash?
            switch (reader.string("key", &diagnostics), reader.string("keyHash", &diagnostics)) {
            case (let key?, nil):
                if key.isEmpty { diagnostics.error(path.key("key"), "must not be empty") }
                hash = key.isEmpty ? nil : APIKeyHash(key: key)
            case (nil, let text?):
                hash = APIKeyHash(text: text)
                if hash == nil { diagnostics.error(path.key("keyHash"), "must be 'sha256:' and 64 hex digits") }
            case (.some, .some):
                diagnostics.error(path, "give either 'key' or 'keyHash', not both")
                hash = nil
            case (nil, nil):
                diagnostics.error(path.key("key"), "is required (or 'keyHash')", code: "MISSING_FIELD")
                hash = nil
            }
            var subscriptions: [String] = []
            for (entry, entryPath) in reader.array("subscriptions", &diagnostics) {
                if let id = entry.stringValue, !id.isEmpty {
                    subscriptions.append(id)
                } else {
                    diagnostics.error(entryPath, "must be a subscription id")
                }
            }
            if subscriptions.isEmpty {
                diagnostics.error(
                    path.key("subscriptions"), "must name at least one subscription", code: "MISSING_FIELD")
            }
            let expireAt = date(reader, "expireAt", &diagnostics)
            let revoked = reader.bool("revoked", &diagnostics) ?? false
            guard let hash else { continue }
            data.apiKeys.append(.init(hash: hash, subscriptions: subscriptions, expireAt: expireAt, revoked: revoked))
        }
        return (diagnostics.hasErrors ? nil : data, diagnostics.diagnostics)
    }

    /// Problems that only show once every access file is read: references to subscriptions or applications that no
    /// file defines (warnings: the key or subscription then simply never grants access), duplicate ids across files.
    public static func crossCheck(_ data: AccessData) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let applications = Set(data.applications.map(\.id))
        var subscriptions = Set<String>()
        for subscription in data.subscriptions {
            if !subscriptions.insert(subscription.id).inserted {
                diagnostics.append(
                    Diagnostic(
                        path: "subscriptions", message: "subscription '\(subscription.id)' is defined more than once",
                        severity: .warning, code: "DUPLICATE_ID"))
            }
            if !applications.contains(subscription.application) {
                diagnostics.append(
                    Diagnostic(
                        path: "subscriptions",
                        message:
                            "subscription '\(subscription.id)' names application '\(subscription.application)', which no access file defines",
                        severity: .warning, code: "UNKNOWN_REFERENCE"))
            }
        }
        for key in data.apiKeys {
            for id in key.subscriptions where !subscriptions.contains(id) {
                diagnostics.append(
                    Diagnostic(
                        path: "apiKeys", message: "an API key names subscription '\(id)', which no access file defines",
                        severity: .warning, code: "UNKNOWN_REFERENCE"))
            }
        }
        return diagnostics
    }

    private func uniqueID(
        _ reader: ConfigurationReader, kind: String, _ seen: inout Set<String>, _ diagnostics: inout DiagnosticCollector
    ) -> String? {
        guard let id = reader.string("id", &diagnostics, required: true), !id.isEmpty else { return nil }
        if !seen.insert(id).inserted {
            diagnostics.error(reader.path.key("id"), "\(kind) id '\(id)' is used twice", code: "DUPLICATE_ID")
            return nil
        }
        return id
    }

    private func date(_ reader: ConfigurationReader, _ key: String, _ diagnostics: inout DiagnosticCollector) -> Date? {
        guard let text = reader.string(key, &diagnostics) else { return nil }
        if let date = Self.parseDate(text) { return date }
        diagnostics.error(reader.path.key(key), "must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
        return nil
    }

    static func parseDate(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return try? Date(text, strategy: fractional)
    }
}

import Foundation
import Logging
import SluiceCore
import SluiceStore
import Yams

/// Copies a directory of declarative files (definitions and access files) into the management store at start: what
/// the store does not hold yet is created, what it holds is left as the management API last set it.
///
/// Each definition becomes a STARTED API whose plans become plan rows; a definition with no plan gets one key-less
/// PUBLISHED plan, so it serves as the file alone would. Access files give applications, subscriptions and keys
/// (keys as digests).
struct StoreSeeder {
    let path: String
    let loader: DefinitionLoader
    let callbackPolicy: WebhookCallbackPolicy
    let logger: Logger

    static let context = ChangeContext(actor: "seed", detail: nil)

    /// Returns the number of resources created; throws only when the store fails.
    @discardableResult
    func seed(into store: any ManagementStore) async throws -> Int {
        var created = 0
        let files: [URL]
        do {
            files = try DefinitionLoader.definitionFiles(at: path)
        } catch {
            logger.error("cannot list definitions to seed", metadata: ["path": "\(path)", "error": "\(error)"])
            return 0
        }
        for file in files {
            guard let data = try? Data(contentsOf: file) else { continue }
            let loaded = loader.load(data: data, source: file.path)
            guard let definition = loaded.definition, loaded.isDeployable, let raw = Self.parse(data, file.path),
                case .object(let object) = raw
            else {
                for error in loaded.errors {
                    logger.error("definition not seeded", metadata: ["file": "\(file.path)", "problem": "\(error)"])
                }
                continue
            }
            let split: (api: ManagedAPI, plans: [ManagedPlan])
            do {
                split = try DefinitionImport.split(object, lifecycleState: .started)
            } catch {
                logger.error("definition not seeded", metadata: ["file": "\(file.path)", "problem": "\(error)"])
                continue
            }
            var api = split.api
            api.deploymentRevision = 1
            var rows = split.plans
            if rows.isEmpty {
                rows.append(
                    ManagedPlan(
                        id: "\(api.id)-keyless", apiID: api.id, name: "Keyless", securityType: "key-less",
                        status: .published, definition: #"{"mode":"STANDARD"}"#))
            }
            // The API and its plans together, or nothing: an API the store holds already is left as it is.
            if try await createIfAbsent(
                file.path, { try await store.importAPI(api, plans: rows, context: Self.context) })
            {
                created += 1 + rows.count
            }
        }
        created += try await seedAccess(into: store)
        if created > 0 {
            logger.info("seeded the management store", metadata: ["path": "\(path)", "created": "\(created)"])
        }
        return created
    }

    private func seedAccess(into store: any ManagementStore) async throws -> Int {
        var created = 0
        let reader = AccessFileReader(maximumFileSize: loader.maximumFileSize, callbackPolicy: callbackPolicy)
        for file in (try? DefinitionLoader.accessFiles(at: path)) ?? [] {
            guard let content = try? Data(contentsOf: file), let raw = Self.parse(content, file.path) else { continue }
            let (data, diagnostics) = reader.read(data: content, source: file.path)
            guard data != nil else {
                for problem in diagnostics where problem.severity == .error {
                    logger.error("access file not seeded", metadata: ["file": "\(file.path)", "problem": "\(problem)"])
                }
                continue
            }
            var owner: [String: String] = [:]
            for item in raw["applications"]?.arrayValue ?? [] {
                guard let id = item["id"]?.stringValue else { continue }
                let application = ManagedApplication(
                    id: id, name: item["name"]?.stringValue ?? id, description: item["description"]?.stringValue,
                    clientID: item["clientId"]?.stringValue)
                if try await createIfAbsent(
                    file.path, { try await store.createApplication(application, context: Self.context) })
                {
                    created += 1
                }
            }
            for item in raw["subscriptions"]?.arrayValue ?? [] {
                guard let id = item["id"]?.stringValue, let application = item["application"]?.stringValue,
                    let api = item["api"]?.stringValue, let plan = item["plan"]?.stringValue
                else { continue }
                owner[id] = application
                var metadata: [String: String] = [:]
                for (key, value) in item["metadata"]?.objectValue?.entries ?? [] {
                    metadata[key] = value.stringValue ?? value.jsonText()
                }
                let subscription = ManagedSubscription(
                    id: id, applicationID: application, apiID: api, planID: plan,
                    status: item["status"]?.stringValue.flatMap {
                        ManagedSubscription.Status(rawValue: $0.uppercased())
                    }
                        ?? .accepted,
                    startingAt: item["startingAt"]?.stringValue.flatMap(Self.date),
                    endingAt: item["endingAt"]?.stringValue.flatMap(Self.date), metadata: metadata,
                    configuration: item["configuration"].map { $0.jsonText() })
                if try await createIfAbsent(
                    file.path, { try await store.createSubscription(subscription, context: Self.context) })
                {
                    created += 1
                }
            }
            for item in raw["apiKeys"]?.arrayValue ?? [] {
                let hash =
                    item["key"]?.stringValue.map { APIKeyHash(key: $0) }
                    ?? item["keyHash"]?.stringValue.flatMap { APIKeyHash(text: $0) }
                let subscriptions = item["subscriptions"]?.arrayValue?.compactMap(\.stringValue) ?? []
                guard let hash, let first = subscriptions.first, let application = owner[first] else { continue }
                let key = ManagedAPIKey(
                    id: item["id"]?.stringValue ?? "key-" + hash.description.dropFirst(7).prefix(16),
                    applicationID: application, hash: hash, subscriptions: subscriptions,
                    expireAt: item["expireAt"]?.stringValue.flatMap(Self.date),
                    revoked: item["revoked"]?.boolValue ?? false)
                if try await createIfAbsent(file.path, { try await store.createAPIKey(key, context: Self.context) }) {
                    created += 1
                }
            }
        }
        return created
    }

    /// Runs a creation; false when the resource exists already or is refused (logged), throws when the store fails.
    private func createIfAbsent<T>(_ file: String, _ create: () async throws -> T) async throws -> Bool {
        do {
            _ = try await create()
            return true
        } catch let error as StoreError where error.code == .conflict {
            return false
        } catch let error as StoreError where error.code == .invalid || error.code == .notFound {
            logger.warning("not seeded", metadata: ["file": "\(file)", "problem": "\(error)"])
            return false
        }
    }

    static func parse(_ data: Data, _ name: String) -> JSONValue? {
        let lowered = name.lowercased()
        if lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") {
            guard let text = String(data: data, encoding: .utf8), let node = try? Yams.load(yaml: text) else {
                return nil
            }
            return JSONValue.fromYAML(node)
        }
        return try? JSONValue.parse(json: data)
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}

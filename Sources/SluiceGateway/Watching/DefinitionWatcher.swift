import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import UnixSignals

/// Keeps the deployed APIs in step with the definition files: deploys them at start, then every
/// `interval` (and at once on SIGHUP) redeploys the files that changed, deploys new ones and undeploys the
/// APIs whose file went away. A file that no longer validates leaves its API running as it was.
///
/// Access files (``AccessFileReader``) are watched the same way: when one changes, the access data of every access
/// file is put together again and replaces the data in force; a file that no longer validates keeps the data it
/// last gave.
actor DefinitionWatcher: Service {
    struct Tracked {
        var fingerprint: FileFingerprint?
        var content: Data
        var apiID: String?
    }

    let path: String
    let loader: DefinitionLoader
    let registry: DeploymentRegistry
    let interval: Duration
    let logger: Logger
    /// Which webhook callbacks access files may name (the gateway's allow-list).
    let callbackPolicy: WebhookCallbackPolicy
    var tracked: [String: Tracked] = [:]
    /// Each access file's content and the data it last gave when it validated.
    var trackedAccess: [String: (fingerprint: FileFingerprint?, content: Data, data: AccessData?)] = [:]

    init(
        path: String, loader: DefinitionLoader, registry: DeploymentRegistry, interval: Duration, logger: Logger,
        callbackPolicy: WebhookCallbackPolicy = .init()
    ) {
        self.callbackPolicy = callbackPolicy
        self.path = path
        self.loader = loader
        self.registry = registry
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        await self.scan(reason: "SIGHUP")
                        self.registry.streams.recheck()
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.interval)
                        await self.scan(reason: nil)
                        // Streams opened with a credential end once it no longer holds: changed access data, or
                        // an expiry that has passed since the last scan.
                        self.registry.streams.recheck()
                        await self.registry.stopIdleRetired()
                    }
                }
            }
        }
    }

    /// Reads every definition file and applies what changed. Returns the problems of files that did not deploy.
    @discardableResult
    func scan(reason: String?) async -> [LoadedDefinition] {
        if let reason { logger.info("reloading definitions", metadata: ["reason": "\(reason)"]) }
        let files: [URL]
        do {
            files = try DefinitionLoader.definitionFiles(at: path)
        } catch {
            logger.error("cannot list definitions", metadata: ["path": "\(path)", "error": "\(error)"])
            return []
        }
        var failures: [LoadedDefinition] = scanAccessFiles()
        var seen = Set<String>()
        for file in files {
            let key = file.path
            seen.insert(key)
            // Each scan only looks at the files' metadata; a file is read again only when that changed.
            let fingerprint = FileFingerprint(path: key)
            if let fingerprint, tracked[key]?.fingerprint == fingerprint { continue }
            guard let content = try? Data(contentsOf: file) else { continue }
            if let known = tracked[key], known.content == content {
                tracked[key]?.fingerprint = fingerprint
                continue
            }
            let previousID = tracked[key]?.apiID
            tracked[key] = Tracked(fingerprint: fingerprint, content: content, apiID: previousID)
            let loaded = loader.load(data: content, source: key)
            for warning in loaded.diagnostics where warning.severity == .warning {
                logger.warning("definition warning", metadata: ["file": "\(key)", "problem": "\(warning)"])
            }
            guard let definition = loaded.definition, loaded.isDeployable else {
                failures.append(loaded)
                for error in loaded.errors {
                    logger.error("definition refused", metadata: ["file": "\(key)", "problem": "\(error)"])
                }
                continue
            }
            if let owner = tracked.first(where: { $0.key != key && $0.value.apiID == definition.id }) {
                let diagnostic = Diagnostic(
                    path: "id", message: "API id '\(definition.id)' is already deployed from \(owner.key)",
                    code: "DUPLICATE_API")
                failures.append(LoadedDefinition(source: key, definition: nil, diagnostics: [diagnostic]))
                logger.error("definition refused", metadata: ["file": "\(key)", "problem": "\(diagnostic)"])
                continue
            }
            do {
                try registry.deploy(definition, source: key)
                if let previousID, previousID != definition.id { await registry.undeploy(id: previousID) }
                tracked[key]?.apiID = definition.id
            } catch let error as DeploymentError {
                failures.append(LoadedDefinition(source: key, definition: nil, diagnostics: error.diagnostics))
                logger.error("definition refused", metadata: ["file": "\(key)", "problem": "\(error)"])
            } catch {
                logger.error("definition refused", metadata: ["file": "\(key)", "error": "\(error)"])
            }
        }
        for (key, entry) in tracked where !seen.contains(key) {
            tracked.removeValue(forKey: key)
            if let id = entry.apiID { await registry.undeploy(id: id) }
        }
        return failures
    }
}

extension DefinitionWatcher {
    /// Reads the access files that changed; replaces the access data in force when anything did. Returns the
    /// problems of access files that were refused.
    func scanAccessFiles() -> [LoadedDefinition] {
        guard let files = try? DefinitionLoader.accessFiles(at: path) else { return [] }
        let reader = AccessFileReader(maximumFileSize: loader.maximumFileSize, callbackPolicy: callbackPolicy)
        var failures: [LoadedDefinition] = []
        var changed = false
        let keys = Set(files.map(\.path))
        for key in trackedAccess.keys where !keys.contains(key) {
            trackedAccess.removeValue(forKey: key)
            changed = true
        }
        for file in files {
            let key = file.path
            let fingerprint = FileFingerprint(path: key)
            if let fingerprint, trackedAccess[key]?.fingerprint == fingerprint { continue }
            guard let content = try? Data(contentsOf: file) else { continue }
            if let known = trackedAccess[key], known.content == content {
                trackedAccess[key]?.fingerprint = fingerprint
                continue
            }
            let (data, diagnostics) = reader.read(data: content, source: key)
            for warning in diagnostics where warning.severity == .warning {
                logger.warning("access file warning", metadata: ["file": "\(key)", "problem": "\(warning)"])
            }
            if let data {
                trackedAccess[key] = (fingerprint, content, data)
                changed = true
                logger.info(
                    "access file loaded",
                    metadata: [
                        "file": "\(key)", "applications": "\(data.applications.count)",
                        "subscriptions": "\(data.subscriptions.count)", "apiKeys": "\(data.apiKeys.count)",
                    ])
            } else {
                // The file's previous data, if it had any, stays in force.
                trackedAccess[key] = (fingerprint, content, trackedAccess[key]?.data)
                let errors = diagnostics.filter { $0.severity == .error }
                failures.append(LoadedDefinition(source: key, definition: nil, diagnostics: errors))
                for error in errors {
                    logger.error(
                        "access file refused, previous access data kept",
                        metadata: ["file": "\(key)", "problem": "\(error)"])
                }
            }
        }
        guard changed else { return failures }
        let merged = AccessData.merging(trackedAccess.keys.sorted().compactMap { trackedAccess[$0]?.data })
        for warning in AccessFileReader.crossCheck(merged) {
            logger.warning("access data warning", metadata: ["problem": "\(warning)"])
        }
        registry.access.replace(with: merged)
        return failures
    }
}

/// What tells that a file may have changed without reading it: its size, modification time and inode (an editor
/// or `mv` that replaces the file changes the inode even within one clock tick).
struct FileFingerprint: Equatable {
    var size: Int
    var modified: Date
    var inode: Int

    init?(path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = attributes[.size] as? Int, let modified = attributes[.modificationDate] as? Date
        else { return nil }
        self.size = size
        self.modified = modified
        self.inode = (attributes[.systemFileNumber] as? Int) ?? 0
    }
}

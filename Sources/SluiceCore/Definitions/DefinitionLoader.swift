public import Foundation
import Yams

/// One definition file as read from disk: the API, or every problem that keeps it from deploying.
public struct LoadedDefinition: Sendable {
    public var source: String
    public var definition: APIDefinition?
    public var diagnostics: [Diagnostic]

    public init(source: String, definition: APIDefinition?, diagnostics: [Diagnostic]) {
        self.source = source
        self.definition = definition
        self.diagnostics = diagnostics
    }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var isDeployable: Bool { definition != nil && errors.isEmpty }
}

/// Reads Gravitee v4 definitions from JSON or YAML files and checks them against a catalog.
public struct DefinitionLoader: Sendable {
    public var catalog: DefinitionCatalog
    /// Files larger than this are refused before parsing. Default: 8 MiB.
    public var maximumFileSize: Int

    public static let fileExtensions: Set<String> = ["json", "yaml", "yml"]

    public init(catalog: DefinitionCatalog, maximumFileSize: Int = 8 << 20) {
        self.catalog = catalog
        self.maximumFileSize = maximumFileSize
    }

    /// Parses and validates definition text. `name` says how to parse it (a `.yaml`/`.yml` name reads YAML).
    public func load(data: Data, source: String) -> LoadedDefinition {
        if data.count > maximumFileSize {
            return LoadedDefinition(
                source: source, definition: nil,
                diagnostics: [
                    Diagnostic(path: "", message: "file is larger than \(maximumFileSize) bytes", code: "TOO_LARGE")
                ]
            )
        }
        let value: JSONValue
        do {
            let lowered = source.lowercased()
            if lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") {
                guard let text = String(data: data, encoding: .utf8) else {
                    return failure(source, "file is not valid UTF-8", code: "SYNTAX_ERROR")
                }
                value = JSONValue.fromYAML(try Yams.load(yaml: text))
            } else {
                value = try JSONValue.parse(json: data)
            }
        } catch let error as JSONSyntaxError {
            return failure(source, error.description, code: "SYNTAX_ERROR")
        } catch {
            return failure(source, "invalid YAML: \(error)", code: "SYNTAX_ERROR")
        }
        return load(value: value, source: source)
    }

    /// Validates an already-parsed definition.
    public func load(value: JSONValue, source: String) -> LoadedDefinition {
        let (definition, structural) = APIDefinitionReader().read(value)
        guard let definition else {
            return LoadedDefinition(source: source, definition: nil, diagnostics: structural)
        }
        let diagnostics = structural + catalog.validate(definition)
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return LoadedDefinition(source: source, definition: hasErrors ? nil : definition, diagnostics: diagnostics)
    }

    public func load(file url: URL) -> LoadedDefinition {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            if let size = attributes[.size] as? Int, size > maximumFileSize {
                return failure(url.path, "file is larger than \(maximumFileSize) bytes", code: "TOO_LARGE")
            }
            return load(data: try Data(contentsOf: url), source: url.path)
        } catch {
            return failure(url.path, "cannot read file: \(error.localizedDescription)", code: "UNREADABLE")
        }
    }

    /// Every definition file at `path`: the file itself, or the `.json`/`.yaml`/`.yml` files of a directory
    /// (recursively, in name order, hidden files skipped), less the access files (``AccessFileReader``).
    public static func definitionFiles(at path: String) throws -> [URL] {
        try configurationFiles(at: path).filter { !AccessFileReader.isAccessFile($0.path) }
    }

    /// The access files at `path` (see ``AccessFileReader``), in name order.
    public static func accessFiles(at path: String) throws -> [URL] {
        try configurationFiles(at: path).filter { AccessFileReader.isAccessFile($0.path) }
    }

    /// Every `.json`/`.yaml`/`.yml` file at `path`.
    static func configurationFiles(at path: String) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        let root = URL(fileURLWithPath: path)
        guard isDirectory.boolValue else { return [root] }
        var files: [URL] = []
        let enumerator = FileManager.default.enumerator(
            at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]
        )
        while let url = enumerator?.nextObject() as? URL {
            guard fileExtensions.contains(url.pathExtension.lowercased()) else { continue }
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { files.append(url) }
        }
        return files.sorted { $0.path < $1.path }
    }

    private func failure(_ source: String, _ message: String, code: String) -> LoadedDefinition {
        LoadedDefinition(
            source: source, definition: nil, diagnostics: [Diagnostic(path: "", message: message, code: code)])
    }
}

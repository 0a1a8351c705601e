import Foundation
import Hummingbird
import SluiceCore
import SluiceManagement
import SluiceStore
import Testing

/// The OpenAPI document against the routes that exist: every route documented, every documented route exists.
@Suite("management API: the OpenAPI document")
struct OpenAPIDocumentTests {
    /// `GET /management/v2/environments/DEFAULT/apis/{apiId}` for each route the router holds.
    static func routes() async throws -> Set<String> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-openapi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteManagementStore(directory: directory.path)
        let server = ManagementServer(store: store, configuration: ManagementConfiguration(), logger: testLogger)
        return Set(
            server.router().routes.map { route in
                let path = route.path.description.split(separator: "/", omittingEmptySubsequences: false).map {
                    $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
                }.joined(separator: "/")
                return "\(route.method.rawValue) \(path.hasPrefix("/") ? path : "/" + path)"
            })
    }

    static var documented: Set<String> {
        let paths = OpenAPIDocument.document["paths"]?.objectValue
        var operations = Set<String>()
        for (path, item) in paths?.entries ?? [] {
            for (method, _) in item.objectValue?.entries ?? [] { operations.insert("\(method.uppercased()) \(path)") }
        }
        return operations
    }

    @Test("every route is documented, and every documented operation is a route")
    func routesMatch() async throws {
        let routes = try await Self.routes()
        let documented = Self.documented
        #expect(routes.count > 40)
        #expect(routes.subtracting(documented).sorted() == [], "routes without documentation")
        #expect(documented.subtracting(routes).sorted() == [], "documented operations without a route")
    }

    @Test("the document is OpenAPI 3.1, served without a token, and every reference resolves")
    func document() async throws {
        try await withManagement(.sqlite) { node in
            let answer = try await node.call(.GET, "/management/openapi.json", token: nil)
            #expect(answer.status == 200)
            let document = try #require(answer.json)
            #expect(document["openapi"]?.stringValue == "3.1.0")
            #expect(document == OpenAPIDocument.document)
            let schemas = try #require(document["components"]?["schemas"]?.objectValue)
            var references: [String] = []
            func collect(_ value: JSONValue) {
                switch value {
                case .object(let object):
                    for (key, child) in object.entries {
                        if key == "$ref", let text = child.stringValue {
                            references.append(text)
                        } else {
                            collect(child)
                        }
                    }
                case .array(let items): items.forEach(collect)
                default: break
                }
            }
            collect(document)
            #expect(references.count > 50)
            for reference in references {
                let name = reference.replacingOccurrences(of: "#/components/schemas/", with: "")
                #expect(schemas[name] != nil, "\(reference) does not resolve")
            }
            // Operation ids are unique.
            var ids: [String] = []
            for (_, item) in document["paths"]?.objectValue?.entries ?? [] {
                for (_, operation) in item.objectValue?.entries ?? [] {
                    if let id = operation["operationId"]?.stringValue { ids.append(id) }
                }
            }
            #expect(Set(ids).count == ids.count)
        }
    }
}

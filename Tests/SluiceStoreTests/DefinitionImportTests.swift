import Foundation
import SluiceCore
import Testing

@testable import SluiceStore

@Suite("definition import")
struct DefinitionImportTests {
    @Test("a v4 definition splits into the API and its plan rows; the plans' security goes to their columns")
    func split() throws {
        let text = definition("orders").replacingOccurrences(
            of: #""plans":[]"#,
            with: #"""
                "plans":[{"id":"k","name":"Key","security":{"type":"api-key","configuration":{"propagateApiKey":true}},"mode":"STANDARD","status":"deprecated","flows":[]},
                         {"id":"f","security":{"type":"key-less"}}]
                """#)
        let object = try #require(try JSONValue.parse(json: Data(text.utf8)).objectValue)
        let (api, plans) = try DefinitionImport.split(object, lifecycleState: .started)
        #expect(api.id == "orders" && api.name == "orders" && api.lifecycleState == .started)
        #expect(try JSONValue.parse(json: Data(api.definition.utf8))["plans"]?.arrayValue?.isEmpty == true)
        #expect(plans.map(\.id) == ["k", "f"] && plans.map(\.status) == [.deprecated, .published])
        #expect(plans[0].securityType == "api-key" && plans[0].securityConfiguration == #"{"propagateApiKey":true}"#)
        #expect(plans[1].name == "f" && plans[1].securityConfiguration == nil)
        let planJSON = try JSONValue.parse(json: Data(plans[0].definition.utf8))
        #expect(planJSON["security"] == nil && planJSON["mode"]?.stringValue == "STANDARD")
    }

    @Test("an id missing, plans that are not an array, plans without ids or with unknown statuses are refused")
    func refused() throws {
        #expect(throws: StoreError.self) { try DefinitionImport.split(JSONObject([("name", .string("x"))])) }
        let bad = JSONObject([
            ("id", .string("a")),
            (
                "plans",
                .array([
                    .object(JSONObject([("name", .string("n"))])),
                    .object(JSONObject([("id", .string("p")), ("status", .string("LIVE"))])),
                ])
            ),
        ])
        do {
            _ = try DefinitionImport.split(bad)
            Issue.record("accepted")
        } catch let error as StoreError {
            #expect(error.problems.map(\.path) == ["plans[0].id", "plans[1].status"])
        }
        let notArray = JSONObject([("id", .string("a")), ("plans", .string("none"))])
        #expect(throws: StoreError.self) { try DefinitionImport.split(notArray) }
    }
}

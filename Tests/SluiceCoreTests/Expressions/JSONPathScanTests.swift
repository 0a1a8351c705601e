import Foundation
import Testing

@testable import SluiceCore

/// `#jsonPath` answered by a scan of the text (definite paths) must say what the parsed document says: the same
/// value, the same refusals of text that is not JSON.
@Suite("jsonPath scan")
struct JSONPathScanTests {
    static let documents: [String] = [
        #"{"type":"created","order":{"id":42,"lines":[{"sku":"a"},{"sku":"b"}]},"ok":true}"#,
        #"  {"type" : "updated" , "n" : -0.5e+3, "z": 0, "nested": {"type": {"deep": [1, [2, 3], {"x": null}]}}}  "#,
        "\u{FEFF}{\"type\":\"bom\"}",
        #"{"type":"first","type":"second"}"#,
        #"{"order":{"id":1},"order":{"other":2}}"#,
        #"{"order":{"id":1},"order":{"id":3}}"#,
        #"{"ty\u0070e":"escaped key","t\"y":"quote"}"#,
        #"{"type":"caf\u00e9 \ud83d\ude00 \n\t\"\\\/"}"#,
        #"{"K":"ascii","\u212a":"kelvin"}"#,
        #"{"\u212a":"kelvin only"}"#,
        "{\"café\":1,\"cafe\u{301}\":2}",
        #"[{"type":"in array"},{"type":"second"}]"#,
        #""just text""#, "42", "-0", "true", "null", "[]", "{}", #"{"a":[]}"#, #"{"a":{}}"#,
        #"{"n":01}"#, #"{"n":1.}"#, #"{"n":.5}"#, #"{"n":-}"#, #"{"n":1e999}"#, #"{"n":1e5}"#, #"{"n":1E-2}"#,
        #"{"n":1.5.3}"#, #"{"n":+1}"#, #"{"n":--1}"#, #"{"n":2e}"#, #"{"n":123456789012345678901234567890}"#,
        #"{"type":"created",}"#, #"{"type":"created""#, #"{"type" "created"}"#, #"{type:"created"}"#,
        #"{"type":"created"} x"#, #"{"type":"created"}}"#, #"{"a":[1,2,]}"#, #"{"a":[1 2]}"#, "",
        "   ", #"{"type":"a\qb"}"#, #"{"type":"\u12"}"#, #"{"type":"\ud800"}"#, #"{"type":"\udc00"}"#,
        #"{"type":"\ud800\u0041"}"#, #"{"type":"\ud83d\ude00"}"#, "{\"type\":\"tab\tinside\"}",
        #"{"type":tru}"#, #"{"type":nul}"#, #"{"type":falsey}"#, #"{"type":"é"}"#, "{\"type\":\"\u{7f}\"}",
        "{\"type\":1}\u{a0}",
        String(repeating: "[", count: 512) + String(repeating: "]", count: 512),
        String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
        "{\"a\":" + String(repeating: "{\"a\":", count: 510) + "1" + String(repeating: "}", count: 511),
    ]

    static let paths = [
        "$", "$.type", "$['type']", "$.order.id", "$.order.other", "$.order.lines[1].sku", "$.order.lines[0]",
        "$.order.lines[5]", "$[0].type", "$[1]", "$.nested.type.deep[1][0]", "$.nested.type.deep[2].x", "$.n",
        "$.K", "$.\u{212A}", "$.café", "$.a", "$.a.a", "$.t\"y", "$.missing.deeper",
    ]

    @Test("every definite path on every document: the scan and the parsed document agree")
    func agreesWithTheParsedDocument() throws {
        var compared = 0
        for document in Self.documents {
            for path in Self.paths {
                let steps = try JSONPathQuery.parse(path)
                let tree = Result { () throws(ExpressionError) in
                    try JSONPathQuery.evaluate(steps, on: .string(document), limit: 10_000)
                }
                let scan = Result { () throws(ExpressionError) in
                    try JSONPathQuery.scan(steps, in: document)
                }
                switch (tree, scan) {
                case (.success(let expected), .success(let found?)):
                    #expect(found == expected, "\(path) on \(document.prefix(80))")
                case (.failure, .failure): break
                default: Issue.record("\(path) on \(document.prefix(80)): parsed \(tree), scanned \(scan)")
                }
                compared += 1
            }
        }
        #expect(compared == Self.documents.count * Self.paths.count)
    }

    @Test("paths with wildcards, descendants or negative indexes are left to the parsed document")
    func leavesOtherPaths() throws {
        for path in ["$.*", "$..type", "$.order.lines[*]", "$.order.lines[-1]"] {
            #expect(try JSONPathQuery.scan(try JSONPathQuery.parse(path), in: #"{"type":"x"}"#) == nil)
        }
    }

    @Test("the filter the benchmark runs, on a 1 KiB event")
    func benchmarkFilter() throws {
        let event = #"{"id":"evt-1","type":"created","data":{"order":{"items":[{"sku":"a","price":12.5}]}}}"#
        let template = try ExpressionParser().parseTemplate("{#jsonPath(#message.content, '$.type') == 'created'}")
        let scope = ExpressionScope(["message": .map(["content": .string(event)])])
        #expect(try ExpressionEvaluator().evaluate(template, in: scope) == .bool(true))
    }
}

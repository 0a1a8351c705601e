import Foundation
import NIOCore
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

    /// Byte sequences that are not UTF-8, in values, keys (plain and escaped) and between tokens.
    static let invalidUTF8: [[UInt8]] = [
        Array(#"{"type":""#.utf8) + [0xFF, 0xC3] + Array(#"","n":1}"#.utf8),
        Array(#"{""#.utf8) + [0xC3] + Array(#"":"x","type":"y"}"#.utf8),
        Array(#"{"t\u0079pe"#.utf8) + [0xE2, 0x82] + Array(#"":"x","type":"z"}"#.utf8),
        Array(#"{"type":"ok"}"#.utf8) + [0xFF],
        [0xFF] + Array(#"{"type":"ok"}"#.utf8),
        Array(#"{"type":["#.utf8) + [0xED, 0xA0, 0x80] + Array(#"]}"#.utf8),
        Array(#"{"type":"\u00e9"#.utf8) + [0xF0, 0x9F] + Array(#""}"#.utf8),
    ]

    @Test(
        "a message's content read in place as bytes: the same answers and refusals as its text, also when the bytes are not UTF-8"
    )
    func bytesAgreeWithText() throws {
        var compared = 0
        let all = Self.documents.map { Array($0.utf8) } + Self.invalidUTF8
        for document in all {
            let text = String(decoding: document, as: UTF8.self)
            for path in Self.paths + ["$.*", "$..type", "$.order.lines[-1]"] {
                let fromText = Result { () throws(ExpressionError) in
                    try JSONPathQuery.evaluate(path, on: .string(text), limit: 10_000)
                }
                let fromBytes = Result { () throws(ExpressionError) in
                    try JSONPathQuery.evaluate(path, onBytes: ByteBuffer(bytes: document), limit: 10_000)
                }
                switch (fromText, fromBytes) {
                case (.success(let expected), .success(let found)):
                    #expect(found == expected, "\(path) on \(text.prefix(80))")
                case (.failure(let expected), .failure(let found)):
                    #expect(found == expected, "\(path) on \(text.prefix(80))")
                default: Issue.record("\(path) on \(text.prefix(80)): text \(fromText), bytes \(fromBytes)")
                }
                compared += 1
            }
        }
        #expect(compared == all.count * (Self.paths.count + 3))
    }

    @Test(
        "#jsonPath(#message.content, …) in a scope gives what it gives on the content as text; other members and null as before"
    )
    func messageContentInPlace() throws {
        let evaluator = ExpressionEvaluator()
        let event = #"{"id":"evt-1","type":"created","data":{"order":{"items":[{"sku":"a","price":12.5}]}}}"#
        let message = Message(id: "m1", content: ByteBuffer(string: event))
        let scope = ExpressionScope(["message": .null]).with("message", .object(MessageExpressionObject(message)))
        func value(_ text: String, _ scope: ExpressionScope) throws -> ExpressionValue {
            try evaluator.evaluate(try ExpressionParser().parseTemplate(text), in: scope)
        }
        #expect(try value("{#jsonPath(#message.content, '$.type')}", scope) == .string("created"))
        #expect(try value("{#jsonPath(#message.content, '$.data.order.items[0].price')}", scope) == .double(12.5))
        #expect(try value("{#jsonPath(#message.content, '$..sku')}", scope) == .list([.string("a")]))
        #expect(throws: ExpressionError.self) { try value("{#jsonPath(#message.id, '$.type')}", scope) }
        let nothing = ExpressionScope(["message": .null])
        #expect(throws: ExpressionError.self) { try value("{#jsonPath(#message.content, '$.type')}", nothing) }
        #expect(try value("{#jsonPath(#message?.content, '$.type')}", nothing) == .null)
        #expect(throws: ExpressionError.self) { try value("{#jsonPath(#message.content, 42)}", scope) }
        // The overlay wins over the scope's own variable of that name.
        #expect(try value("{#message.id}", scope) == .string("m1"))
        #expect(try value("{#message}", nothing) == .null)
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

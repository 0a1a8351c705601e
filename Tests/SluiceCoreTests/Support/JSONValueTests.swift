import Foundation
import SluiceCore
import Testing

@Suite("JSON text")
struct JSONValueTests {
    @Test("parses every JSON type, keeps key order, and writes it back the same")
    func roundTrip() throws {
        let text = #"{"z":1,"a":[true,false,null,-2.5,"s\"\\\n\u00e9\ud83d\ude00"],"m":{}}"#
        let value = try JSONValue.parse(json: Data(text.utf8))
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value["a"]?.arrayValue?[4] == .string("s\"\\\né😀"))
        #expect(value.jsonText() == #"{"z":1,"a":[true,false,null,-2.5,"s\"\\\né😀"],"m":{}}"#)
    }

    @Test(
        "malformed input gives a line and column, never a crash",
        arguments: [
            ("{", 1, 2), ("{\"a\" 1}", 1, 6), ("[1,]", 1, 4), ("{\n  \"a\": tru\n}", 2, 8), ("\"\\ud800\"", 1, 8),
            ("1 2", 1, 3),
            ("\"\u{01}\"", 1, 2), ("-", 1, 1), ("{\"a\":1,}", 1, 8),
        ])
    func malformed(text: String, line: Int, column: Int) {
        do {
            _ = try JSONValue.parse(json: Data(text.utf8))
            Issue.record("parsed \(text)")
        } catch let error as JSONSyntaxError {
            #expect(error.line == line, "\(text): \(error)")
            #expect(error.column == column, "\(text): \(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("deep nesting is refused, not a stack overflow")
    func deepNesting() {
        let text = String(repeating: "[", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(json: Data(text.utf8)) }
    }

    @Test("every byte-prefix of a document either parses or fails cleanly")
    func prefixes() {
        let text = #"{"id":"x","listeners":[{"type":"http","paths":[{"path":"/a"}]}],"n":-1.5e3}"#
        let bytes = Array(text.utf8)
        for end in 0..<bytes.count {
            #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(json: Data(bytes[0..<end])) }
        }
        #expect(throws: Never.self) { try JSONValue.parse(json: Data(bytes)) }
    }

    @Test("merging overrides field by field")
    func merging() throws {
        let base = try JSONValue.parse(json: Data(#"{"consumer":{"enabled":false,"topics":["a"]},"x":1}"#.utf8))
            .objectValue!
        let override = try JSONValue.parse(json: Data(#"{"consumer":{"enabled":true}}"#.utf8)).objectValue!
        #expect(
            JSONValue.object(base.merging(override)).jsonText()
                == #"{"consumer":{"enabled":true,"topics":["a"]},"x":1}"#)
    }
}

import Foundation
import KafkaClient
import SluiceEndpoints
import Testing

@Suite("Kafka cursors: Gravitee's message id format")
struct KafkaCursorTests {
    static func partition(_ topic: String, _ number: Int32) -> KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: number)
    }

    @Test("topics in order joined by ';', partitions in order joined by ',', each partition#offset")
    func plainFormat() {
        let cursor = KafkaCursor(lastOffsets: [
            Self.partition("orders", 1): 17, Self.partition("audit", 0): 3, Self.partition("orders", 0): 41,
        ])
        #expect(cursor.description == "audit@0#3;orders@0#41,1#17")
        #expect(cursor.text(encoded: false) == "audit@0#3;orders@0#41,1#17")
        #expect(cursor.text(encoded: true) == Data("audit@0#3;orders@0#41,1#17".utf8).base64EncodedString())
    }

    @Test(
        "the examples of Gravitee's documentation parse",
        arguments: ["topic1@0#1", "topic1@0#1;anotherTopic@1#10", "my-topic@1#0,2#0"])
    func documentationExamples(_ text: String) throws {
        let cursor = try KafkaCursor(parsing: text)
        #expect(cursor.description.split(separator: ";").count == text.split(separator: ";").count)
        #expect(try KafkaCursor(parsing: Data(text.utf8).base64EncodedString()) == cursor)
    }

    @Test("base64 in the standard and URL-safe alphabets, with or without padding, and '+' turned into a space")
    func base64Variants() throws {
        // "t@0#1022" encodes with '+' or '/' depending on content; pick one whose base64 has both and padding.
        let cursor = KafkaCursor(lastOffsets: [Self.partition("a.b_c-d", 7): 1_234_567_890_123])
        let standard = cursor.text(encoded: true)
        #expect(try KafkaCursor(parsing: standard) == cursor)
        let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .trimmingCharacters(in: CharacterSet(charactersIn: "="))
        #expect(try KafkaCursor(parsing: urlSafe) == cursor)
        #expect(try KafkaCursor(parsing: standard.replacingOccurrences(of: "+", with: " ")) == cursor)
    }

    @Test("last and next offsets are one apart; -1 means nothing read yet")
    func offsets() throws {
        let cursor = try KafkaCursor(parsing: "t@0#-1,1#9")
        #expect(cursor.nextOffsets == [Self.partition("t", 0): 0, Self.partition("t", 1): 10])
        #expect(KafkaCursor(nextOffsets: cursor.nextOffsets) == cursor)
    }

    @Test(
        "malformed cursors are refused",
        arguments: [
            "", "t", "t@", "@0#1", "t@x#1", "t@0", "t@0#", "t@0#-2", "t@-1#0", "t@0#1,", "t@0#1#2", "!!!", "dEA",
        ]
    )
    func malformed(_ text: String) {
        #expect(throws: KafkaCursor.ParseError.self) { try KafkaCursor(parsing: text) }
    }
}

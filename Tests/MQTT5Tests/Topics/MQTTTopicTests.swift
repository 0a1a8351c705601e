import MQTT5
import Testing

@Suite struct MQTTTopicTests {
    @Test(arguments: [
        "a", "/", "sport/tennis/player1", "/finance", "finance/", "Accounts payable", "$SYS/monitor", "é/ü", "a//b",
    ])
    func validTopicNames(name: String) {
        #expect(MQTTTopic.isValidName(name))
    }

    @Test(arguments: ["", "a/+", "+", "#", "sport/#", "a+b", "a#", "a\u{0}b"])
    func invalidTopicNames(name: String) {
        let error = #expect(throws: MQTTProtocolError.self) { try MQTTTopic.validateName(name) }
        #expect(error?.code == .invalidTopicName)
        #expect(error?.disconnectReason == .topicNameInvalid)
    }

    @Test func aTopicNameOver65535BytesIsInvalid() {
        #expect(MQTTTopic.isValidName(String(repeating: "a", count: 65_535)))
        #expect(!MQTTTopic.isValidName(String(repeating: "a", count: 65_536)))
    }

    /// The valid and invalid examples of 4.7.1 and 4.8.2, and a few more.
    @Test(arguments: [
        "#", "sport/tennis/#", "sport/#", "+", "+/tennis/#", "sport/+/player1", "+/+", "/+", "/", "//", "a//#",
        "$SYS/#", "$share/consumer1/sport/tennis/+", "$share/consumer1//finance", "$share/g/#", "$share/g/+/x",
        "$share", "$sharex/a", "$SHARE/g/a",
    ])
    func validTopicFilters(filter: String) {
        #expect(MQTTTopic.isValidFilter(filter), "\(filter)")
    }

    @Test(arguments: [
        "", "sport/tennis#", "sport/tennis/#/ranking", "sport+", "##", "#/", "a/#/b", "+a", "a/b+", "a/#b",
        "$share/", "$share/g", "$share//a", "$share/g/", "$share/g+/a", "$share/g#/a", "$share/g/a/#/b", "a\u{0}",
    ])
    func invalidTopicFilters(filter: String) {
        let error = #expect(throws: MQTTProtocolError.self, "\(filter)") { try MQTTTopic.validateFilter(filter) }
        #expect(error?.code == .invalidTopicFilter)
        #expect(error?.disconnectReason == .topicFilterInvalid)
    }

    @Test func sharedSubscriptionsExposeTheirParts() throws {
        let shared = try MQTTTopicFilter("$share/consumer1/sport/tennis/+")
        #expect(shared.isShared)
        #expect(shared.shareName == "consumer1")
        #expect(shared.filter == "sport/tennis/+")
        #expect(shared.hasWildcards)
        let plain = try MQTTTopicFilter("sport/tennis")
        #expect(!plain.isShared)
        #expect(plain.shareName == nil)
        #expect(plain.filter == "sport/tennis")
        #expect(!plain.hasWildcards)
        #expect(plain.description == "sport/tennis")
    }

    static let matches: [(String, String, Bool)] = [
        // 4.7.1.2
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("#", "anything/at/all", true),
        ("#", "/", true),
        ("sport/tennis/#", "sport/tennis", true),
        ("sport/tennis/#", "sport/tennisplayer", false),
        // 4.7.1.3
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player2", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+", "finance", true),
        ("+/tennis/#", "sport/tennis", true),
        ("+/tennis/#", "sport/tennis/a/b", true),
        ("+/tennis/#", "sport/golf", false),
        // 4.7.2: topics starting with $
        ("#", "$SYS/monitor/Clients", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("$SYS/#", "$SYS/monitor/Clients", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ("a/#", "a/$b", true),
        // 4.7.3: case and separators matter; no normalisation
        ("ACCOUNTS", "Accounts", false),
        ("/finance", "finance", false),
        ("finance/", "finance", false),
        ("a//b", "a//b", true),
        ("a/+/b", "a//b", true),
        ("\u{E9}", "e\u{301}", false),
        ("e\u{301}", "e\u{301}", true),
        ("+", "e\u{301}", true),
        // 4.8.2: the $share/{ShareName}/ prefix is not matched
        ("$share/consumer1/sport/tennis/+", "sport/tennis/player1", true),
        ("$share/consumer1//finance", "/finance", true),
        ("$share/g/#", "$SYS/x", false),
        ("$share/g/a", "$share/g/a", false),
        // Invalid filters match nothing.
        ("sport/tennis#", "sport/tennis#", false),
        ("a/#/b", "a/x/b", false),
    ]

    @Test(arguments: matches)
    func topicFiltersMatchAsSection4_7Says(filter: String, topicName: String, expected: Bool) {
        #expect(MQTTTopic.matches(topicName: topicName, filter: filter) == expected, "\(filter) vs \(topicName)")
    }

    @Test func anEmptyTopicNameMatchesNothing() throws {
        #expect(!(try MQTTTopicFilter("#")).matches(topicName: ""))
    }
}

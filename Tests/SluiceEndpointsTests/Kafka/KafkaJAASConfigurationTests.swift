import SluiceEndpoints
import Testing

@Suite("JAAS configurations as Gravitee users write them")
struct KafkaJAASConfigurationTests {
    @Test("Kafka's documented form: module, flag, double-quoted options, ';'")
    func documented() throws {
        let jaas = try KafkaJAASConfiguration(
            parsing:
                #"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cr;t";"#
        )
        #expect(jaas.loginModule == "org.apache.kafka.common.security.plain.PlainLoginModule")
        #expect(jaas.controlFlag == "required")
        #expect(jaas.options == ["username": "alice", "password": "s3cr;t"])
    }

    @Test("single quotes (Azure Event Hubs' form), bare words, escapes, no ';', extra whitespace")
    func variants() throws {
        let azure = try KafkaJAASConfiguration(
            parsing:
                "org.apache.kafka.common.security.plain.PlainLoginModule required username='$ConnectionString' password='Endpoint=sb://x/;Key=a=b'"
        )
        #expect(azure.options["username"] == "$ConnectionString")
        #expect(azure.options["password"] == "Endpoint=sb://x/;Key=a=b")
        let bare = try KafkaJAASConfiguration(
            parsing:
                "  org.apache.kafka.common.security.scram.ScramLoginModule   REQUIRED\n username=bob   password = \"q\\\"uote\" ; "
        )
        #expect(bare.controlFlag == "required")
        #expect(bare.options == ["username": "bob", "password": "q\"uote"])
    }

    @Test(
        "malformed configurations are refused, and the error never repeats the text",
        arguments: [
            "", "org.Module", "org.Module maybe username=\"u\";", #"org.Module required username="u" password="secret"#,
            #"org.Module required username"#, #"org.Module required ="x";"#,
            #"org.Module required password="secret"; other.Module required;"#,
        ]
    )
    func malformed(_ text: String) {
        do {
            _ = try KafkaJAASConfiguration(parsing: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(!error.description.contains("secret"))
        }
    }
}

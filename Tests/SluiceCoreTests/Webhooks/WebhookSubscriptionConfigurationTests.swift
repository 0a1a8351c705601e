import Foundation
import Testing

@testable import SluiceCore

@Suite("webhook subscriptions in access files")
struct WebhookSubscriptionConfigurationTests {
    static func file(_ entrypointConfiguration: String, extra: String = "") -> String {
        """
        applications:
          - id: shop
        subscriptions:
          - id: hook-1
            application: shop
            api: orders
            plan: push
            status: ACCEPTED
            configuration:
              entrypointId: webhook
              channel: orders-eu
        \(extra)
              entrypointConfiguration:
        \(entrypointConfiguration)
        """
    }

    static func read(
        _ text: String, policy: WebhookCallbackPolicy = .init()
    ) -> (AccessData?, [Diagnostic]) {
        AccessFileReader(callbackPolicy: policy).read(data: Data(text.utf8), source: "hooks.access.yaml")
    }

    @Test("Gravitee's subscription configuration reads whole: callback, channel, headers, basic auth, ssl, secret")
    func readsEverything() throws {
        let (data, diagnostics) = Self.read(
            Self.file(
                """
                        callbackUrl: https://hooks.example.com/orders?team=eu
                        headers:
                          - { name: X-Team, value: checkout }
                        auth: { type: basic, basic: { username: shop, password: s3cret } }
                        ssl: { trustAll: false, hostnameVerifier: true }
                        secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
                """))
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let webhook = try #require(data?.subscriptions.first?.webhook)
        #expect(webhook.callbackURL.absoluteString == "https://hooks.example.com/orders?team=eu")
        #expect(webhook.channel == "orders-eu")
        #expect(webhook.headers == [.init(name: "X-Team", value: "checkout")])
        #expect(webhook.authentication == .basic(username: "shop", password: "s3cret"))
        #expect(webhook.ssl["trustAll"]?.boolValue == false)
        #expect(webhook.secret?.key.count == 24)
    }

    @Test("token and oauth2 client-credentials auth")
    func readsTokenAndOAuth2() throws {
        let (token, tokenDiagnostics) = Self.read(
            Self.file(
                """
                        callbackUrl: http://127.0.0.1:9000/hook
                        auth: { type: token, token: { value: eyJhbGciOi.x.y } }
                """))
        #expect(tokenDiagnostics.isEmpty, "\(tokenDiagnostics)")
        #expect(token?.subscriptions.first?.webhook?.authentication == .token("eyJhbGciOi.x.y"))
        let (oauth2, oauth2Diagnostics) = Self.read(
            Self.file(
                """
                        callbackUrl: http://127.0.0.1:9000/hook
                        auth:
                          type: oauth2
                          oauth2: { endpoint: "http://127.0.0.1:9001/token", clientId: c, clientSecret: s, scopes: [roles] }
                """))
        #expect(oauth2Diagnostics.isEmpty, "\(oauth2Diagnostics)")
        #expect(
            oauth2?.subscriptions.first?.webhook?.authentication
                == .oauth2(
                    endpoint: URL(string: "http://127.0.0.1:9001/token")!, clientID: "c", clientSecret: "s",
                    scopes: ["roles"]))
    }

    @Test(
        "invalid callback URLs refuse the file, with a diagnostic at the callback's JSON path",
        arguments: [
            ("\"\"", "INVALID_CALLBACK_URL", "must not be empty"),
            ("ftp://hooks.example.com/x", "INVALID_CALLBACK_URL", "http or https"),
            ("javascript:alert(1)", "INVALID_CALLBACK_URL", "http or https"),
            ("https://user:pass@hooks.example.com/x", "INVALID_CALLBACK_URL", "credentials"),
            ("https:///nohost", "INVALID_CALLBACK_URL", "host"),
        ])
    func refusesBadURLs(url: String, code: String, words: String) {
        let (data, diagnostics) = Self.read(Self.file("            callbackUrl: \(url)"))
        #expect(data == nil)
        let problem = diagnostics.first { $0.severity == .error }
        #expect(problem?.code == code, "\(diagnostics)")
        #expect(problem?.path == "subscriptions[0].configuration.entrypointConfiguration.callbackUrl")
        #expect(problem?.message.contains(words) == true, "\(diagnostics)")
    }

    @Test("the operator's allow-list: names, *. patterns, addresses and CIDR blocks")
    func allowList() {
        let policy = WebhookCallbackPolicy(allowList: ["hooks.example.com", "*.partners.test", "10.1.0.0/16", "::1"])
        #expect(policy.allows(host: "hooks.example.com"))
        #expect(policy.allows(host: "HOOKS.example.com"))
        #expect(!policy.allows(host: "evil-hooks.example.com"))
        #expect(policy.allows(host: "a.b.partners.test"))
        #expect(!policy.allows(host: "partners.test"))
        #expect(policy.allows(host: "10.1.200.3"))
        #expect(!policy.allows(host: "10.2.0.1"))
        #expect(!policy.allows(host: "127.0.0.1"))
        #expect(policy.allows(host: "[::1]"))
        #expect(WebhookCallbackPolicy().allows(host: "anything.test"))
        #expect(
            WebhookCallbackPolicy.invalidEntries(["ok.test", "10.0.0.0/33", "bad host", "*.", "::/0"]) == [
                "10.0.0.0/33", "bad host", "*.",
            ])

        let (data, diagnostics) = Self.read(
            Self.file("            callbackUrl: http://169.254.169.254/latest"), policy: policy)
        #expect(data == nil)
        #expect(diagnostics.contains { $0.code == "CALLBACK_NOT_ALLOWED" && $0.message.contains("169.254.169.254") })
    }

    @Test("other mistakes: entrypoint id, auth type, header names, secret, missing callback")
    func otherMistakes() {
        let cases: [(String, String, String)] = [
            (
                Self.file("            callbackUrl: http://h.test/\n            auth: { type: digest }"), "auth.type",
                "UNSUPPORTED_TYPE"
            ),
            (
                Self.file(
                    "            callbackUrl: http://h.test/\n            auth: { type: basic, basic: { username: a } }"
                ), "auth.basic.password", "MISSING_FIELD"
            ),
            (
                Self.file(
                    "            callbackUrl: http://h.test/\n            headers: [{ name: 'bad name', value: v }]"),
                "headers", "INVALID_VALUE"
            ),
            (
                Self.file("            callbackUrl: http://h.test/\n            secret: not-a-secret"), "secret",
                "INVALID_VALUE"
            ),
            (Self.file("            headers: []"), "callbackUrl", "MISSING_FIELD"),
        ]
        for (text, pathSuffix, code) in cases {
            let (data, diagnostics) = Self.read(text)
            #expect(data == nil, "\(text)")
            let error = diagnostics.first { $0.severity == .error }
            #expect(error?.path.hasSuffix(pathSuffix) == true, "\(diagnostics)")
            #expect(error?.code == code, "\(diagnostics)")
        }
        // An entrypoint id other than webhook's.
        var diagnostics = DiagnosticCollector()
        let parsed = WebhookSubscriptionConfiguration.parse(
            JSONObject([
                ("entrypointId", .string("sse")),
                ("entrypointConfiguration", .object(JSONObject([("callbackUrl", .string("http://h.test/"))]))),
            ]), at: JSONPath("configuration"), diagnostics: &diagnostics)
        #expect(parsed == nil)
        #expect(diagnostics.diagnostics.first?.code == "UNSUPPORTED_TYPE")
    }

    @Test("a subscription without configuration is not a webhook subscription")
    func plainSubscription() throws {
        let text = """
            subscriptions:
              - { id: s, application: a, api: orders, plan: key, status: ACCEPTED }
            """
        let (data, diagnostics) = Self.read(text)
        #expect(diagnostics.isEmpty)
        #expect(try #require(data).subscriptions.first?.webhook == nil)
    }
}

@Suite("webhook callback address policy")
struct WebhookCallbackAddressPolicyTests {
    @Test("the deny-list: addresses, blocks and 'private', checked on every resolved address")
    func denyList() {
        let policy = WebhookCallbackPolicy(denyList: ["private", "203.0.113.9"])
        #expect(policy.checksAddresses)
        #expect(policy.permittedAddresses(host: "hooks.test", resolved: ["127.0.0.1", "::1"]).isEmpty)
        #expect(
            policy.permittedAddresses(host: "hooks.test", resolved: ["10.0.0.1", "93.184.216.34", "169.254.169.254"])
                == ["93.184.216.34"])
        #expect(policy.permittedAddresses(host: "hooks.test", resolved: ["203.0.113.9"]).isEmpty)
        // An IPv4-mapped IPv6 address is the IPv4 address it stands for.
        #expect(
            policy.permittedAddresses(host: "hooks.test", resolved: ["::ffff:127.0.0.1", "::ffff:10.2.3.4"]).isEmpty)
        #expect(
            policy.permittedAddresses(host: "hooks.test", resolved: ["fd00::1", "fe80::1", "2606:4700::1"]) == [
                "2606:4700::1"
            ])
        #expect(!policy.mayName(host: "169.254.169.254"))
        #expect(!policy.mayName(host: "[::1]"))
        #expect(policy.mayName(host: "hooks.test"), "a name is checked when it is resolved")
        #expect(policy.mayName(host: "93.184.216.34"))
        #expect(
            WebhookCallbackPolicy.invalidDenyEntries(["private", "10.0.0.0/8", "hooks.test", "10.0.0.0/40", "*.x"])
                == ["hooks.test", "10.0.0.0/40", "*.x"])
    }

    @Test("allow-list blocks admit a name by the addresses it resolves to; names it names need no block")
    func allowBlocksAdmitNames() {
        let policy = WebhookCallbackPolicy(allowList: ["10.1.0.0/16", "hooks.partner.test"], denyList: ["10.1.9.0/24"])
        #expect(policy.checksAddresses)
        #expect(policy.mayName(host: "anything.internal"), "resolved and checked at delivery")
        #expect(
            policy.permittedAddresses(host: "anything.internal", resolved: ["10.1.2.3", "10.2.0.1"]) == ["10.1.2.3"])
        #expect(policy.permittedAddresses(host: "anything.internal", resolved: ["10.1.9.5"]).isEmpty, "denied wins")
        #expect(
            policy.permittedAddresses(host: "hooks.partner.test", resolved: ["192.0.2.10", "10.1.9.5"]) == [
                "192.0.2.10"
            ], "a name allowed by name may use any address the deny-list leaves")
        #expect(policy.permittedAddresses(host: "HOOKS.partner.test.", resolved: ["192.0.2.10"]) == ["192.0.2.10"])

        let namesOnly = WebhookCallbackPolicy(allowList: ["hooks.partner.test"])
        #expect(!namesOnly.checksAddresses, "names only: nothing to resolve")
        #expect(!namesOnly.mayName(host: "other.test"))
        #expect(!WebhookCallbackPolicy().checksAddresses)
    }
}

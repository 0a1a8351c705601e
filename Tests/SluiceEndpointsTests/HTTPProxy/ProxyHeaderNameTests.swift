import SluiceEndpoints
import Testing

/// The proxy's header names, told apart in any case without lower-casing.
@Suite("proxy header names")
struct ProxyHeaderNameTests {
    @Test(
        "each special name is recognised in any case",
        arguments: [
            ("Connection", ProxyHeaderName.connection), ("TRANSFER-ENCODING", .transferEncoding),
            ("keep-alive", .hopByHop), ("Proxy-Connection", .hopByHop), ("proxy-authorization", .hopByHop),
            ("Proxy-Authenticate", .hopByHop), ("TE", .hopByHop), ("Trailer", .hopByHop), ("uPgRaDe", .hopByHop),
            ("X-Forwarded-For", .forwardedFor), ("x-forwarded-proto", .forwardedSet),
            ("X-Forwarded-Host", .forwardedSet),
            ("X-FORWARDED-PORT", .forwardedSet), ("X-Forwarded-Prefix", .forwardedSet), ("Host", .host),
            ("Accept-Encoding", .acceptEncoding), ("Authorization", .authorization), ("Content-Length", .contentLength),
        ])
    func special(name: String, kind: ProxyHeaderName) {
        #expect(ProxyHeaderName(name) == kind)
    }

    @Test(
        "other names, including ones of the same length or differing only outside letters, are other",
        arguments: [
            "X-Custom", "Hosts", "te2", "Connectiom", "Content-Type", "x_forwarded_for", "", "Upgrade{",
            "H\u{00F6}st", "Accept-Encodinh", "connection\r",
        ])
    func other(name: String) {
        #expect(ProxyHeaderName(name) == .other)
        #expect(!ProxyHeaderName(name).isHopByHop)
    }

    @Test("case folding touches letters only: '[' is not '{', '@' is not '`'")
    func foldsLettersOnly() {
        #expect(!ProxyHeaderName.equals("a[b", lowercased: "a{b"))
        #expect(!ProxyHeaderName.equals("@", lowercased: "`"))
        #expect(ProxyHeaderName.equals("X-Api-KEY", lowercased: "x-api-key"))
        #expect(!ProxyHeaderName.equals("x-api-ke", lowercased: "x-api-key"))
    }

    @Test("a Connection value names headers, not its close and keep-alive options")
    func nominated() {
        var names: Set<String>?
        ProxyHeaderName.nominated(by: "keep-alive", into: &names)
        ProxyHeaderName.nominated(by: " Close ", into: &names)
        #expect(names == nil, "the usual values name nothing")
        ProxyHeaderName.nominated(by: "Keep-Alive, X-Secret ,\tX-Other,,", into: &names)
        #expect(names == ["x-secret", "x-other"])
    }
}

import HTTPTypes
import HummingbirdCore
import NIOHTTP1
import SluiceCore

extension SecurityChain.Credentials {
    static let apiKeyField = HTTPField.Name(SecurityChain.apiKeyHeader)!

    /// The credentials of a request on the async path.
    init(fields: HTTPFields, uri: URI) {
        let query = uri.query != nil ? uri.queryParameters : nil
        self.init(
            apiKey: fields[Self.apiKeyField].map { $0[...] }
                ?? query?[SecurityChain.apiKeyQueryParameter[...]],
            bearerToken: Self.bearer(fields[values: .authorization]) ?? query?["access_token"]
        )
    }

    /// The credentials of a request on the event-loop path.
    init(head: HTTPRequestHead) {
        let query = head.uri.utf8.contains(UInt8(ascii: "?")) ? URI(head.uri).queryParameters : nil
        self.init(
            apiKey: head.headers.first(name: SecurityChain.apiKeyHeader).map { $0[...] }
                ?? query?[SecurityChain.apiKeyQueryParameter[...]],
            bearerToken: Self.bearer(head.headers["authorization"]) ?? query?["access_token"]
        )
    }

    /// The token of the first `Authorization` value that uses the Bearer scheme (Gravitee reads the first
    /// such header); empty when the scheme has no token.
    static func bearer(_ values: some Sequence<String>) -> Substring? {
        for value in values {
            let utf8 = value.utf8
            guard utf8.count >= 6, value.prefix(6).lowercased() == "bearer" else { continue }
            let rest = value.dropFirst(6)
            // "Bearer" alone, or followed by whitespace: "Bearerabc" is another scheme.
            guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { continue }
            return rest.drop(while: { $0 == " " || $0 == "\t" })
        }
        return nil
    }
}

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
            hasBearerToken: Self.isBearer(fields[.authorization]) || query?["access_token"] != nil
        )
    }

    /// The credentials of a request on the event-loop path.
    init(head: HTTPRequestHead) {
        let query = head.uri.utf8.contains(UInt8(ascii: "?")) ? URI(head.uri).queryParameters : nil
        self.init(
            apiKey: head.headers.first(name: SecurityChain.apiKeyHeader).map { $0[...] }
                ?? query?[SecurityChain.apiKeyQueryParameter[...]],
            hasBearerToken: Self.isBearer(head.headers.first(name: "authorization")) || query?["access_token"] != nil
        )
    }

    private static func isBearer(_ authorization: String?) -> Bool {
        guard let authorization else { return false }
        return authorization.lowercased().hasPrefix("bearer ")
    }
}

import Foundation
public import HTTPTypes
public import HummingbirdCore

/// Gravitee's client identifier: what names one consumer across requests (its Kafka consumer group, its shared
/// subscription). A client chooses it with the `X-Gravitee-Client-Identifier` header or query parameter; a request
/// without one gets a fresh identifier, as Gravitee gives a key-less request its transaction id. Either way the
/// response carries it back in the header, so a client can keep using the one it was given.
public enum ClientIdentifier {
    public static let name = "X-Gravitee-Client-Identifier"
    public static let field = HTTPField.Name(name)!

    /// The identifier the client gave: the header, else the query parameter.
    public static func given(headers: HTTPFields, uri: URI) -> String? {
        if let header = headers[field], !header.isEmpty { return header }
        if let query = uri.queryParameters[name[...]], !query.isEmpty { return String(query) }
        return nil
    }

    /// The request's identifier: the one the client gave, else a new one (`generated` true).
    public static func resolve(headers: HTTPFields, uri: URI) -> (value: String, generated: Bool) {
        if let given = given(headers: headers, uri: uri) { return (given, false) }
        return (UUID().uuidString, true)
    }

    public static func resolve(_ request: Request) -> (value: String, generated: Bool) {
        resolve(headers: request.headers, uri: request.uri)
    }
}

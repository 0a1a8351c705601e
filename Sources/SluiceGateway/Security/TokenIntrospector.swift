import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore

/// Asks an `oauth2` resource's authorization server about a token (RFC 7662), as Gravitee's generic OAuth2
/// resource does: the token in the query (`?token=…`), a header or a form body; the client's credentials in
/// `Authorization: Basic base64(clientId:clientSecret)` (name and scheme configurable).
struct TokenIntrospector: Sendable {
    enum Outcome: Sendable {
        case answer(IntrospectionAnswer)
        /// Unreachable, timed out, or an answer other than 200 with a JSON object.
        case serverFailure(String)
    }

    let resource: OAuth2ResourceConfiguration
    let logger: Logger

    /// Largest introspection answer read. Default: 256 KiB.
    static let maximumAnswerBytes = 256 << 10

    func introspect(_ token: Substring) async -> Outcome {
        do {
            var url = resource.introspectionURL
            if let name = resource.tokenQueryParameter {
                url += (url.contains("?") ? "&" : "?") + Self.formEncoded(name) + "=" + Self.formEncoded(token)
            }
            var request = HTTPClientRequest(url: url)
            request.method = resource.method == "POST" ? .POST : .GET
            request.headers.add(name: "Accept", value: "application/json")
            if resource.useClientAuthorizationHeader {
                let credentials = Data("\(resource.clientID):\(resource.clientSecret)".utf8).base64EncodedString()
                request.headers.add(
                    name: resource.clientAuthorizationHeaderName,
                    value:
                        "\(resource.clientAuthorizationHeaderScheme.trimmingCharacters(in: .whitespaces)) \(credentials)"
                )
            }
            if let header = resource.tokenHeader { request.headers.add(name: header, value: String(token)) }
            if let field = resource.tokenFormField {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: Self.formEncoded(field) + "=" + Self.formEncoded(token)))
            }
            let timeout = TimeAmount.milliseconds(resource.connectTimeoutMs + resource.readTimeoutMs)
            let response = try await SecurityHTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            guard response.status == .ok else {
                return .serverFailure("the authorization server answered \(response.status.code)")
            }
            guard let answer = IntrospectionAnswer(body: String(buffer: body)) else {
                return .serverFailure("the authorization server's answer is not a JSON object")
            }
            return .answer(answer)
        } catch {
            logger.warning(
                "token introspection failed", metadata: ["resource": "\(resource.name)", "error": "\(error)"])
            return .serverFailure("\(error)")
        }
    }

    /// `application/x-www-form-urlencoded` escaping: what is not unreserved is percent-encoded.
    static func formEncoded(_ text: some StringProtocol) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0x0F)])
            }
        }
        return out
    }
}

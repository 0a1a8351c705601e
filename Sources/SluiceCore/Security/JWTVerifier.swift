public import Foundation
public import JWTKit

/// A compact JWS taken apart: header and claims read, the signature not checked yet.
public struct JWTParts: Sendable {
    public let header: JSONObject
    public let claims: JSONObject
    let signingInput: [UInt8]
    let signature: [UInt8]

    /// Splits and decodes `token`; nil for anything that is not three base64url parts whose first two are JSON
    /// objects, or that is longer than `maximumBytes`.
    public init?(_ token: Substring, maximumBytes: Int) {
        let bytes = Array(token.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumBytes else { return nil }
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else { return nil }
        let headerPart = bytes[..<dots[0]]
        let payloadPart = bytes[(dots[0] + 1)..<dots[1]]
        let signaturePart = bytes[(dots[1] + 1)...]
        guard let headerBytes = Base64URL.decode(headerPart), let payloadBytes = Base64URL.decode(payloadPart),
            let signature = Base64URL.decode(signaturePart),
            case .object(let header)? = try? JSONValue.parse(json: Data(headerBytes)),
            case .object(let claims)? = try? JSONValue.parse(json: Data(payloadBytes))
        else { return nil }
        self.header = header
        self.claims = claims
        self.signingInput = Array(bytes[..<dots[1]])
        self.signature = signature
    }

    public var algorithm: String? { header["alg"]?.stringValue }
    public var keyID: String? { header["kid"]?.stringValue }
}

/// The keys a plan verifies signatures with, built once (by jwt-kit) and then used synchronously.
public struct JWTKeySet: Sendable {
    public struct Key: Sendable {
        public var id: String?
        public var algorithm: any JWTAlgorithm
    }

    public var keys: [Key]
    /// A given key is used whatever `kid` a token names (Gravitee does the same); JWKS keys are chosen by `kid`.
    public var matchesKeyID: Bool

    public static let empty = JWTKeySet(keys: [], matchesKeyID: true)

    public func candidates(for keyID: String?) -> [Key] {
        guard matchesKeyID, let keyID else { return keys }
        return keys.filter { $0.id == keyID }
    }

    public func contains(keyID: String) -> Bool { keys.contains { $0.id == keyID } }

    /// The key of a `GIVEN_KEY` plan: a PEM public key or certificate (RSA, EC, Ed25519), or an HMAC secret (its
    /// base64 decoding when it is valid base64, else its UTF-8 bytes, as Gravitee reads it).
    public static func given(_ text: String, signature: JWTPlanConfiguration.Signature) async throws -> JWTKeySet {
        let collection = JWTKeyCollection()
        let kid = JWKIdentifier(string: "given")
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let isCertificate = trimmed.contains("BEGIN CERTIFICATE")
        switch signature {
        case .hs256, .hs384, .hs512:
            let secret = try hmacSecret(text, signature: signature)
            let digest: DigestAlgorithm =
                signature == .hs256 ? .sha256 : signature == .hs384 ? .sha384 : .sha512
            await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: digest, kid: kid)
        case .rs256, .rs384, .rs512:
            let key =
                isCertificate
                ? try Insecure.RSA.PublicKey(certificatePEM: trimmed) : try Insecure.RSA.PublicKey(pem: trimmed)
            let digest: DigestAlgorithm =
                signature == .rs256 ? .sha256 : signature == .rs384 ? .sha384 : .sha512
            await collection.add(rsa: key, digestAlgorithm: digest, kid: kid)
        case .es256:
            let key = isCertificate ? try ES256PublicKey(certificate: trimmed) : try ES256PublicKey(pem: trimmed)
            await collection.add(ecdsa: key, kid: kid)
        case .es384:
            let key = isCertificate ? try ES384PublicKey(certificate: trimmed) : try ES384PublicKey(pem: trimmed)
            await collection.add(ecdsa: key, kid: kid)
        case .eddsa:
            await collection.add(eddsa: try EdDSA.PublicKey(pem: trimmed), kid: kid)
        }
        let algorithm = try await collection.getKey(for: kid, alg: signature.rawValue)
        return JWTKeySet(keys: [Key(id: nil, algorithm: algorithm)], matchesKeyID: false)
    }

    /// The secret's bytes; at least as long as the hash (32, 48, 64 bytes), as RFC 7518 and Gravitee's library
    /// require (jwt-kit asserts it).
    static func hmacSecret(_ text: String, signature: JWTPlanConfiguration.Signature) throws -> [UInt8] {
        let secret = Base64URL.decodeStandard(text) ?? Array(text.utf8)
        let minimum = signature == .hs256 ? 32 : signature == .hs384 ? 48 : 64
        guard secret.count >= minimum else {
            throw JWTKeyError(
                "a \(signature.rawValue) secret must be at least \(minimum) bytes, this one has \(secret.count)")
        }
        return secret
    }

    /// Reads a given key without building a verifier: for checking a definition.
    public static func checkGiven(_ text: String, signature: JWTPlanConfiguration.Signature) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let isCertificate = trimmed.contains("BEGIN CERTIFICATE")
        switch signature {
        case .hs256, .hs384, .hs512:
            _ = try hmacSecret(text, signature: signature)
        case .rs256, .rs384, .rs512:
            _ =
                isCertificate
                ? try Insecure.RSA.PublicKey(certificatePEM: trimmed) : try Insecure.RSA.PublicKey(pem: trimmed)
        case .es256:
            _ = isCertificate ? try ES256PublicKey(certificate: trimmed) : try ES256PublicKey(pem: trimmed)
        case .es384:
            _ = isCertificate ? try ES384PublicKey(certificate: trimmed) : try ES384PublicKey(pem: trimmed)
        case .eddsa:
            _ = try EdDSA.PublicKey(pem: trimmed)
        }
    }

    /// The keys of a JSON Web Key Set that can verify `signature`: keys for another algorithm or of another type,
    /// private keys and keys jwt-kit cannot read are left out (and named in `skipped`).
    public static func jwks(
        _ data: Data, signature: JWTPlanConfiguration.Signature
    ) async throws -> (
        keys: JWTKeySet, skipped: [String]
    ) {
        guard case .object(let root) = try JSONValue.parse(json: data), case .array(let items)? = root["keys"] else {
            throw JWTKeyError("a JWK set is an object with a 'keys' array")
        }
        var keys: [Key] = []
        var skipped: [String] = []
        for (index, item) in items.enumerated() {
            let label = item["kid"]?.stringValue ?? "#\(index)"
            if let alg = item["alg"]?.stringValue, alg != signature.rawValue {
                skipped.append("\(label): alg \(alg)")
                continue
            }
            if item["d"] != nil || item["k"] != nil {
                // Secrets have no place in a published key set; never verify with one.
                skipped.append("\(label): private or symmetric key")
                continue
            }
            do {
                let jwk = try JSONDecoder().decode(JWK.self, from: Data(item.jsonText().utf8))
                var named = jwk
                let kid = JWKIdentifier(string: item["kid"]?.stringValue ?? "#\(index)")
                named.keyIdentifier = kid
                let collection = JWTKeyCollection()
                try await collection.add(jwk: named)
                let algorithm = try await collection.getKey(for: kid, alg: signature.rawValue)
                guard algorithm.name == signature.rawValue else {
                    skipped.append("\(label): a key for \(algorithm.name)")
                    continue
                }
                keys.append(Key(id: item["kid"]?.stringValue, algorithm: algorithm))
            } catch {
                skipped.append("\(label): \(error)")
            }
        }
        return (JWTKeySet(keys: keys, matchesKeyID: true), skipped)
    }
}

public struct JWTKeyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A token whose signature and claims held: what the plan needs from it.
public struct VerifiedJWT: Sendable {
    public var claims: JSONObject
    public var expiresAt: Date?
    public var notBefore: Date?
    public var clientID: String?
    public var user: String?
    public var scopes: [String]
    /// What the plan that verified it tells the rest of the request (`oauth.client_id`, `user`, `jwt.claims`),
    /// set once by the gateway when the token is cached, so that a token seen again does not build them anew.
    public var attributes: [String: String]?
}

/// Checks a JWT against a plan's configuration: the algorithm the plan names, a signature by one of its keys, the
/// time claims with the clock skew, and the issuer and audience when the plan names them. Pure and synchronous.
public struct JWTVerifier: Sendable {
    public enum Outcome: Sendable {
        case valid(VerifiedJWT)
        /// Refused; the reason is for logs, never for the client.
        case invalid(String)
        /// The token names a key id the key set does not hold (a JWK set may have rotated).
        case unknownKey(String)
    }

    public let configuration: JWTPlanConfiguration
    /// Tolerance on `exp`, `nbf` and `iat`, in seconds.
    public let clockSkew: Double

    public init(configuration: JWTPlanConfiguration, clockSkew: Double) {
        self.configuration = configuration
        self.clockSkew = clockSkew
    }

    public func verify(_ parts: JWTParts, keys: JWTKeySet, now: Date) -> Outcome {
        guard let alg = parts.algorithm else { return .invalid("no alg in the header") }
        // The plan fixes the algorithm: this refuses `none` and an HMAC token against a public key.
        guard alg == configuration.signature.rawValue else {
            return .invalid("alg \(alg) where the plan expects \(configuration.signature.rawValue)")
        }
        if parts.header["crit"] != nil { return .invalid("critical header parameters are not understood") }
        let candidates = keys.candidates(for: parts.keyID)
        if candidates.isEmpty {
            if let kid = parts.keyID, keys.matchesKeyID { return .unknownKey(kid) }
            return .invalid("no key to verify with")
        }
        let signed = candidates.contains { key in
            (try? key.algorithm.verify(parts.signature, signs: parts.signingInput)) == true
        }
        guard signed else { return .invalid("bad signature") }
        return check(claims: parts.claims, now: now)
    }

    /// The claim checks alone: for a token whose signature was verified.
    public func check(claims: JSONObject, now: Date) -> Outcome {
        var expiresAt: Date?
        var notBefore: Date?
        let seconds = now.timeIntervalSince1970
        for name in ["exp", "nbf", "iat"] {
            guard let value = claims[name], !value.isNull else { continue }
            guard case .number(let time) = value else { return .invalid("\(name) is not a number") }
            switch name {
            case "exp":
                if seconds >= time + clockSkew { return .invalid("expired") }
                expiresAt = Date(timeIntervalSince1970: time)
            case "nbf":
                if seconds + clockSkew < time { return .invalid("not valid yet") }
                notBefore = Date(timeIntervalSince1970: time)
            default:
                if seconds + clockSkew < time { return .invalid("issued in the future") }
            }
        }
        if !configuration.issuers.isEmpty {
            guard let issuer = claims["iss"]?.stringValue, configuration.issuers.contains(issuer) else {
                return .invalid("issuer not accepted")
            }
        }
        if !configuration.audiences.isEmpty {
            let audiences: [String]
            switch claims["aud"] {
            case .string(let aud)?: audiences = [aud]
            case .array(let items)?: audiences = items.compactMap(\.stringValue)
            default: audiences = []
            }
            guard audiences.contains(where: configuration.audiences.contains) else {
                return .invalid("audience not accepted")
            }
        }
        return .valid(
            VerifiedJWT(
                claims: claims, expiresAt: expiresAt, notBefore: notBefore, clientID: clientID(claims),
                user: Self.claim(configuration.userClaim, in: claims).flatMap(Self.text), scopes: Self.scopes(claims)))
    }

    /// Time checks on a cached token: it may have expired since.
    public func stillValid(_ token: VerifiedJWT, now: Date) -> Bool {
        if let expiresAt = token.expiresAt, now.timeIntervalSince1970 >= expiresAt.timeIntervalSince1970 + clockSkew {
            return false
        }
        if let notBefore = token.notBefore, now.timeIntervalSince1970 + clockSkew < notBefore.timeIntervalSince1970 {
            return false
        }
        return true
    }

    /// Gravitee's rule: `clientIdClaim` when set; else `azp`, else the (first) `aud`, else `client_id`.
    public func clientID(_ claims: JSONObject) -> String? {
        if let name = configuration.clientIdClaim { return Self.claim(name, in: claims).flatMap(Self.firstText) }
        if let azp = claims["azp"]?.stringValue, !azp.isEmpty { return azp }
        if let aud = claims["aud"].flatMap(Self.firstText) { return aud }
        return claims["client_id"]?.stringValue
    }

    /// A claim by name, or by a dotted path into nested objects when no claim has the whole name.
    static func claim(_ name: String, in claims: JSONObject) -> JSONValue? {
        if let value = claims[name] { return value }
        var current: JSONValue = .object(claims)
        for component in name.split(separator: ".") {
            guard let next = current[String(component)] else { return nil }
            current = next
        }
        return current
    }

    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): JSONValue.numberText(number)
        default: nil
        }
    }

    static func firstText(_ value: JSONValue) -> String? {
        if case .array(let items) = value { return items.first.flatMap(text) }
        return text(value)
    }

    /// `scope` (space-separated, RFC 9068), else `scp` (an array).
    static func scopes(_ claims: JSONObject) -> [String] {
        for name in ["scope", "scp"] {
            switch claims[name] {
            case .string(let text)?:
                let scopes = text.split(whereSeparator: \.isWhitespace).map(String.init)
                if !scopes.isEmpty { return scopes }
            case .array(let items)?: return items.compactMap(\.stringValue)
            default: continue
            }
        }
        return []
    }
}

/// Base64 decoding for JWTs (base64url, unpadded) and for HMAC secrets (standard alphabet).
enum Base64URL {
    static func decode(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        decode(bytes, alphabet62: UInt8(ascii: "-"), alphabet63: UInt8(ascii: "_"), allowPadding: false, strict: true)
    }

    /// Standard base64, padding optional (as Java's decoder, which Gravitee uses to read HMAC secrets).
    static func decodeStandard(_ text: String) -> [UInt8]? {
        decode(
            Array(text.utf8), alphabet62: UInt8(ascii: "+"), alphabet63: UInt8(ascii: "/"), allowPadding: true,
            strict: false)
    }

    private static func decode(
        _ input: some Collection<UInt8>, alphabet62: UInt8, alphabet63: UInt8, allowPadding: Bool, strict: Bool
    ) -> [UInt8]? {
        var bytes = Array(input)
        if allowPadding {
            var padding = 0
            while bytes.last == UInt8(ascii: "=") {
                bytes.removeLast()
                padding += 1
            }
            guard padding <= 2, padding == 0 || (bytes.count + padding) % 4 == 0 else { return nil }
        }
        guard bytes.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in bytes {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case alphabet62: value = 62
            case alphabet63: value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Strict: the unused low bits must be zero, so that one token has one spelling (a changed last character
        // is a changed token, never the same signature).
        if strict, bits > 0, accumulator & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return output
    }
}

import Foundation

/// What the gateway answers, as Gravitee v4 answers for an HTTP listener with CORS enabled (its
/// `CorsPreflightRequestProcessor` and `CorsSimpleRequestProcessor`).
///
/// A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the gateway, before
/// plans are checked: 200 with the allowed methods and headers when the origin, the method and every requested
/// header are allowed, else 400 `CORS_PREFLIGHT_FAILED`. Every other answer, errors included, gets
/// `Access-Control-Allow-Origin` (the request's origin), `-Allow-Credentials` and `-Expose-Headers` when its origin is
/// allowed; when it is not (or there is none), the request is still served, and those headers are removed from the
/// answer (a backend's own included), so a browser keeps the answer from the page.
///
/// Every answer also carries `Vary: Origin`, which Gravitee leaves out: the answer depends on the origin, and a
/// shared cache must not give one origin's answer to another.
extension CORSConfiguration {
    public static let preflightFailedKey = "CORS_PREFLIGHT_FAILED"

    /// Whether a request is a CORS preflight.
    public static func isPreflight(method: String, headers: MessageHeaders) -> Bool {
        method == "OPTIONS" && !headers["Origin"].isEmpty && !headers["Access-Control-Request-Method"].isEmpty
    }

    /// Whether `origin` may read answers.
    public func allows(origin: String?) -> Bool {
        guard let origin else { return false }
        if allowsAnyOrigin || allowOrigins.contains(origin.lowercased()) { return true }
        return originPatterns.contains { $0.matches(origin) }
    }

    /// The headers of the 200 that answers a preflight, or the 400 that refuses it (its message says why; its
    /// headers are ``apply(to:origin:)``'s).
    public func preflight(_ headers: MessageHeaders) -> Result<MessageHeaders, GatewayError> {
        let origin = headers["Origin"].first
        guard let origin, allows(origin: origin) else {
            return .failure(Self.refusal("Origin '\(origin ?? "")' is not allowed"))
        }
        let method = headers["Access-Control-Request-Method"].first ?? ""
        let trimmedMethod = method.trimmingCharacters(in: .whitespaces)
        if !allowMethods.contains("*"), !allowMethods.isEmpty, !trimmedMethod.isEmpty,
            !allowMethods.contains(trimmedMethod)
        {
            return .failure(Self.refusal("Request method '\(method)' is not allowed"))
        }
        let requested = headers["Access-Control-Request-Headers"].joined(separator: ",")
        let names = requested.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
        let allowed = Set(allowHeaders.map { $0.lowercased() })
        if !allowed.contains("*"), !allowed.isEmpty, !names.allSatisfy(allowed.contains) {
            return .failure(Self.refusal("Request headers '\(requested)' are not valid"))
        }
        // Gravitee refuses every preflight when no method is listed.
        guard !allowMethods.isEmpty else {
            return .failure(
                Self.refusal("CORS configuration invalid, Access-Control-Allow-Methods cannot be null or empty."))
        }
        var answer = MessageHeaders()
        answer.add(name: "Access-Control-Allow-Methods", value: allowMethods.joined(separator: ", "))
        if !allowHeaders.isEmpty {
            answer.add(name: "Access-Control-Allow-Headers", value: allowHeaders.joined(separator: ", "))
        }
        if let maxAge { answer.add(name: "Access-Control-Max-Age", value: String(maxAge)) }
        if allowPrivateNetwork,
            headers["Access-Control-Request-Private-Network"].first?.lowercased() == "true"
        {
            answer.add(name: "Access-Control-Allow-Private-Network", value: "true")
        }
        apply(to: &answer, origin: origin)
        return .success(answer)
    }

    /// Sets the CORS headers of an answer to a request from `origin` (the request's `Origin`, if any), replacing
    /// any the backend or the flows set; when the origin is not allowed, removes them.
    public func apply(to headers: inout MessageHeaders, origin: String?) {
        for name in [
            "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
        ] {
            headers.remove(name: name)
        }
        if let origin, allows(origin: origin) {
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            if allowCredentials { headers.add(name: "Access-Control-Allow-Credentials", value: "true") }
            if !exposeHeaders.isEmpty {
                headers.add(name: "Access-Control-Expose-Headers", value: exposeHeaders.joined(separator: ", "))
            }
        }
        let varies = headers["Vary"].contains { value in
            value.split(separator: ",").contains {
                let token = $0.trimmingCharacters(in: .whitespaces)
                return token == "*" || token.lowercased() == "origin"
            }
        }
        if !varies { headers.add(name: "Vary", value: "Origin") }
    }

    static func refusal(_ message: String) -> GatewayError {
        GatewayError(status: 400, key: preflightFailedKey, message: message)
    }
}

import Foundation

/// An HTTP listener's `cors` object, as Gravitee v4 reads it: `enabled`, `allowOrigin`, `allowMethods`,
/// `allowHeaders`, `exposeHeaders`, `allowCredentials`, `maxAge` (seconds; `-1`, the default, sends none),
/// `runPolicies` and `allowPrivateNetwork`. Nothing else is read when `enabled` is not true, as in Gravitee.
///
/// `allowOrigin` entries are origins compared case-insensitively (`*` allows every origin), or, when they hold
/// `(`, `[` or `*`, regular expressions the whole origin must match (`https://(.+)\.example\.com`). The gateway
/// never answers `*`: an allowed origin is echoed back, so that credentials work.
public struct CORSConfiguration: Sendable {
    /// Literal origins, lower-cased.
    public var allowOrigins: Set<String>
    public var allowsAnyOrigin: Bool
    /// The regular-expression entries of `allowOrigin`.
    public var originPatterns: [OriginPattern]
    /// Upper-cased, in the definition's order, without repeats.
    public var allowMethods: [String]
    /// In the definition's order, without repeats (compared case-insensitively).
    public var allowHeaders: [String]
    public var exposeHeaders: [String]
    public var allowCredentials: Bool
    /// Seconds a browser may keep a preflight's answer; nil sends no `Access-Control-Max-Age`.
    public var maxAge: Int?
    /// Whether a preflight goes through the API's flows (plans are skipped) before the gateway answers it.
    public var runPolicies: Bool
    public var allowPrivateNetwork: Bool

    public init(
        allowOrigin: [String] = [], allowMethods: [String] = [], allowHeaders: [String] = [],
        exposeHeaders: [String] = [], allowCredentials: Bool = false, maxAge: Int? = nil, runPolicies: Bool = false,
        allowPrivateNetwork: Bool = false
    ) {
        self.allowOrigins = Set(allowOrigin.filter { $0 != "*" }.map { $0.lowercased() })
        self.allowsAnyOrigin = allowOrigin.contains("*")
        self.originPatterns = allowOrigin.filter(Self.isPattern).compactMap { try? OriginPattern($0) }
        self.allowMethods = Self.unique(allowMethods.map { $0.uppercased() })
        self.allowHeaders = Self.unique(allowHeaders)
        self.exposeHeaders = Self.unique(exposeHeaders)
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
        self.runPolicies = runPolicies
        self.allowPrivateNetwork = allowPrivateNetwork
    }

    static let fields: Set<String> = [
        "enabled", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "allowCredentials", "maxAge",
        "runPolicies", "allowPrivateNetwork",
    ]

    /// Reads a listener's `cors`; nil when it is absent or not enabled. An `allowOrigin` entry that is neither an
    /// origin nor a regular expression that compiles is refused, as Gravitee's management refuses it.
    public static func parse(_ reader: ConfigurationReader, diagnostics: inout DiagnosticCollector) -> Self? {
        guard reader.bool("enabled", &diagnostics) == true else { return nil }
        reader.warnUnknown(fields, &diagnostics)
        let origins = FlowPolicies.strings(reader, "allowOrigin", &diagnostics)
        for (index, entry) in origins.enumerated() where entry != "*" && entry != "null" {
            let path = reader.path.key("allowOrigin").index(index)
            if isPattern(entry) {
                if (try? OriginPattern(entry)) == nil {
                    diagnostics.error(path, "'\(entry)' is not a valid regular expression")
                }
            } else if !looksLikeOrigin(entry) {
                diagnostics.error(
                    path, "'\(entry)' is not an origin (scheme://host[:port], no path) nor a regular expression")
            }
        }
        let methods = FlowPolicies.strings(reader, "allowMethods", &diagnostics)
        if methods.isEmpty {
            diagnostics.warning(
                reader.path.key("allowMethods"), "no method is allowed: every preflight request is refused",
                code: "INVALID_VALUE")
        }
        var maxAge: Int?
        if reader.has("maxAge") {
            guard let seconds = reader.integer("maxAge", &diagnostics, minimum: -1, maximum: Int64(Int32.max)) else {
                return nil
            }
            maxAge = seconds < 0 ? nil : Int(seconds)
        }
        return CORSConfiguration(
            allowOrigin: origins, allowMethods: methods,
            allowHeaders: FlowPolicies.strings(reader, "allowHeaders", &diagnostics),
            exposeHeaders: FlowPolicies.strings(reader, "exposeHeaders", &diagnostics),
            allowCredentials: reader.bool("allowCredentials", &diagnostics) ?? false, maxAge: maxAge,
            runPolicies: reader.bool("runPolicies", &diagnostics) ?? false,
            allowPrivateNetwork: reader.bool("allowPrivateNetwork", &diagnostics) ?? false)
    }

    /// An `allowOrigin` entry read as a regular expression, which the whole origin must match (as Java's
    /// `Pattern.matches`). NSRegularExpression matches from any thread.
    public struct OriginPattern: @unchecked Sendable {
        public let source: String
        let regex: NSRegularExpression

        init(_ source: String) throws {
            self.source = source
            self.regex = try NSRegularExpression(pattern: "^(?:\(source))$")
        }

        public func matches(_ origin: String) -> Bool {
            regex.firstMatch(in: origin, range: NSRange(origin.startIndex..<origin.endIndex, in: origin)) != nil
        }
    }

    /// Gravitee's gateway reads an entry as a regular expression when it holds one of these.
    static func isPattern(_ entry: String) -> Bool {
        entry != "*" && entry.contains { $0 == "(" || $0 == "[" || $0 == "*" }
    }

    /// `scheme://authority` with no path, query or fragment (what a browser's `Origin` header holds).
    static func looksLikeOrigin(_ entry: String) -> Bool {
        guard let separator = entry.range(of: "://") else { return false }
        let scheme = entry[..<separator.lowerBound]
        let authority = entry[separator.upperBound...]
        return !scheme.isEmpty && !scheme.contains { ":/?#".contains($0) } && !authority.isEmpty
            && !authority.contains { "/?#".contains($0) }
    }

    static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0.lowercased()).inserted }
    }
}

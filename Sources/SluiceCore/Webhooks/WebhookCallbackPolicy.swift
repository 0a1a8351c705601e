public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which callback URLs a webhook subscription may name: an `http` or `https` URL with a host, without credentials
/// in it, and, when the operator gives an allow-list (the gateway setting `webhooks.callbackAllowList`), a host
/// the list names.
///
/// An allow-list entry is a host name (`hooks.example.com`), a name pattern for subdomains (`*.example.com`), an IP
/// address or a CIDR block (`10.0.0.0/8`, `::1/128`). Names are compared as written in the URL: a name is not
/// resolved here, so an operator who must keep callbacks off private networks lists names, not blocks.
public struct WebhookCallbackPolicy: Sendable, Hashable {
    /// Empty: any host. Default: empty.
    public var allowList: [String]

    public init(allowList: [String] = []) {
        self.allowList = allowList
    }

    /// The allow-list entries that are not a name, a `*.` pattern, an address or a CIDR block.
    public static func invalidEntries(_ entries: [String]) -> [String] {
        entries.filter { Entry($0) == nil }
    }

    /// The URL when `text` may be a callback; nil with a diagnostic at `path` saying why not.
    public func check(_ text: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector) -> URL? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            diagnostics.error(path, "must not be empty", code: "INVALID_CALLBACK_URL")
            return nil
        }
        guard let components = URLComponents(string: trimmed), let url = components.url else {
            diagnostics.error(path, "'\(text)' is not a URL", code: "INVALID_CALLBACK_URL")
            return nil
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            diagnostics.error(path, "must be an http or https URL", code: "INVALID_CALLBACK_URL")
            return nil
        }
        guard let host = components.host, !host.isEmpty else {
            diagnostics.error(path, "must name a host", code: "INVALID_CALLBACK_URL")
            return nil
        }
        if components.user != nil || components.password != nil {
            diagnostics.error(
                path, "must not carry credentials: give them in 'auth'", code: "INVALID_CALLBACK_URL")
            return nil
        }
        if components.fragment != nil {
            diagnostics.error(path, "must not have a fragment", code: "INVALID_CALLBACK_URL")
            return nil
        }
        if !allows(host: host) {
            diagnostics.error(
                path, "host '\(host)' is not in the gateway's webhook callback allow-list",
                code: "CALLBACK_NOT_ALLOWED")
            return nil
        }
        return url
    }

    /// Whether the allow-list lets callbacks go to `host` (a name, or an address, with or without brackets).
    public func allows(host: String) -> Bool {
        guard !allowList.isEmpty else { return true }
        var bare = host.lowercased()
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        let address = IPAddress(bare)
        return allowList.contains { entry in
            switch Entry(entry) {
            case .name(let name)?: return address == nil && bare == name
            case .suffix(let suffix)?: return address == nil && bare.hasSuffix("." + suffix)
            case .block(let network, let prefix)?: return address.map { network.contains($0, prefix: prefix) } ?? false
            case nil: return false
            }
        }
    }

    enum Entry: Equatable {
        case name(String)
        case suffix(String)
        case block(IPAddress, Int)

        init?(_ text: String) {
            let entry = text.trimmingCharacters(in: .whitespaces).lowercased()
            guard !entry.isEmpty else { return nil }
            if entry.hasPrefix("*.") {
                let suffix = String(entry.dropFirst(2))
                guard Self.isName(suffix) else { return nil }
                self = .suffix(suffix)
                return
            }
            let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
            if let address = IPAddress(String(parts[0])) {
                let width = address.bytes.count * 8
                guard parts.count <= 2 else { return nil }
                let prefix = parts.count == 2 ? Int(parts[1]) : width
                guard let prefix, (0...width).contains(prefix) else { return nil }
                self = .block(address, prefix)
                return
            }
            guard parts.count == 1, Self.isName(entry) else { return nil }
            self = .name(entry)
        }

        static func isName(_ text: String) -> Bool {
            !text.isEmpty
                && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                    !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                }
        }
    }

    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address.
    struct IPAddress: Equatable {
        var bytes: [UInt8]

        init?(_ text: String) {
            var v4 = in_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                bytes = withUnsafeBytes(of: &v4) { Array($0) }
                return
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, text, &v6) == 1 {
                bytes = withUnsafeBytes(of: &v6) { Array($0) }
                return
            }
            return nil
        }

        func contains(_ other: IPAddress, prefix: Int) -> Bool {
            guard other.bytes.count == bytes.count else { return false }
            var remaining = prefix
            for index in bytes.indices where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if bytes[index] & mask != other.bytes[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }
}

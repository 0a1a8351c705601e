public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which callback URLs a webhook subscription may name, and which addresses a delivery may connect to: an `http` or
/// `https` URL with a host, without credentials in it, and the operator's two lists (gateway settings):
///
/// - `webhooks.callbackAllowList`: when not empty, only these hosts. An entry is a host name (`hooks.example.com`), a
///   name pattern for subdomains (`*.example.com`), an IP address or a CIDR block (`10.0.0.0/8`, `::1/128`). A host
///   the list names by name may resolve to any address the deny-list leaves; any other host name is resolved at
///   delivery and every address used must lie in one of the list's blocks.
/// - `webhooks.callbackDenyList`: addresses no callback may reach, whatever its name resolves to: IP addresses, CIDR
///   blocks, and `private` for every non-public range (loopback, RFC 1918, link-local with cloud metadata services,
///   carrier-grade NAT, unique local IPv6, multicast, reserved).
///
/// Names are resolved when a delivery opens connections (``permittedAddresses(host:resolved:)``), and the
/// connection goes to the address that was checked, so a name cannot be made to point elsewhere between the check
/// and the connection.
public struct WebhookCallbackPolicy: Sendable, Hashable {
    /// Empty: any host. Default: empty.
    public var allowList: [String]
    /// Empty: no address refused. Default: empty.
    public var denyList: [String]

    public init(allowList: [String] = [], denyList: [String] = []) {
        self.allowList = allowList
        self.denyList = denyList
    }

    /// The allow-list entries that are not a name, a `*.` pattern, an address or a CIDR block.
    public static func invalidEntries(_ entries: [String]) -> [String] {
        entries.filter { Entry($0) == nil }
    }

    /// The deny-list entries that are not an address, a CIDR block or `private`.
    public static func invalidDenyEntries(_ entries: [String]) -> [String] {
        entries.filter { blocks(denyEntry: $0) == nil }
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
        if !mayName(host: host) {
            diagnostics.error(
                path, "host '\(host)' is not allowed by the gateway's webhook callback allow-list or deny-list",
                code: "CALLBACK_NOT_ALLOWED")
            return nil
        }
        return url
    }

    /// Whether a callback URL may name `host` (a name, or an address, with or without brackets): an address the
    /// lists admit, a name the allow-list names, or, when the allow-list has blocks, any name (its addresses are
    /// checked at delivery).
    public func mayName(host: String) -> Bool {
        let bare = Self.bare(host)
        if let address = IPAddress(bare) { return admits(address, namedHost: false) }
        return allowList.isEmpty || allowsByName(bare) || allowBlocks.isEmpty == false
    }

    /// Whether the allow-list lets callbacks go to `host` as written: a name it names, or an address in one of its
    /// blocks (the deny-list aside).
    public func allows(host: String) -> Bool {
        guard !allowList.isEmpty else { return true }
        let bare = Self.bare(host)
        if let address = IPAddress(bare) { return allowBlocks.contains { $0.contains(address.unmappedIPv4) } }
        return allowsByName(bare)
    }

    /// Whether deliveries must resolve callback names themselves and check the addresses: the deny-list has
    /// entries, or the allow-list admits names by their addresses.
    public var checksAddresses: Bool {
        !denyList.isEmpty || !allowBlocks.isEmpty
    }

    /// Of the addresses `host` resolved to (textual IPv4 or IPv6), those a delivery may connect to, in the order
    /// given. Empty when none may be used.
    public func permittedAddresses(host: String, resolved: [String]) -> [String] {
        let bare = Self.bare(host)
        let named = IPAddress(bare) == nil && (allowList.isEmpty || allowsByName(bare))
        return resolved.filter { text in
            guard let address = IPAddress(text) else { return false }
            return admits(address, namedHost: named)
        }
    }

    /// Whether `address` may be connected to: not in a denied block and, unless its host is allowed by name (or
    /// there is no allow-list), in an allowed block.
    func admits(_ address: IPAddress, namedHost: Bool) -> Bool {
        let address = address.unmappedIPv4
        if denyBlocks.contains(where: { $0.contains(address) }) { return false }
        if namedHost || allowList.isEmpty { return true }
        return allowBlocks.contains { $0.contains(address) }
    }

    func allowsByName(_ name: String) -> Bool {
        allowList.contains { entry in
            switch Entry(entry) {
            case .name(let allowed)?: return name == allowed
            case .suffix(let suffix)?: return name.hasSuffix("." + suffix)
            case .block?, nil: return false
            }
        }
    }

    var allowBlocks: [Block] {
        allowList.compactMap { entry in
            if case .block(let network, let prefix)? = Entry(entry) { return Block(network: network, prefix: prefix) }
            return nil
        }
    }

    var denyBlocks: [Block] { denyList.flatMap { Self.blocks(denyEntry: $0) ?? [] } }

    /// Whether `text` is an IPv4 or IPv6 address (not a name).
    public static func isAddress(_ text: String) -> Bool { IPAddress(text) != nil }

    /// A URL's host as the lists compare it: lower-cased, without IPv6 brackets or a final dot.
    public static func bare(_ host: String) -> String {
        var bare = host.lowercased()
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        if bare.hasSuffix(".") { bare.removeLast() }
        return bare
    }

    /// The blocks a deny-list entry stands for; nil when it is not an address, a block or `private`.
    static func blocks(denyEntry: String) -> [Block]? {
        let entry = denyEntry.trimmingCharacters(in: .whitespaces).lowercased()
        if entry == "private" { return privateBlocks }
        if case .block(let network, let prefix)? = Entry(entry) { return [Block(network: network, prefix: prefix)] }
        return nil
    }

    /// Every range that is not the public internet: what `private` in the deny-list stands for.
    static let privateBlocks: [Block] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001:db8::/32",
        "fc00::/7", "fe80::/10", "ff00::/8",
    ].map { text in
        guard case .block(let network, let prefix)? = Entry(text) else { preconditionFailure("bad block \(text)") }
        return Block(network: network, prefix: prefix)
    }

    struct Block: Hashable {
        var network: IPAddress
        var prefix: Int

        func contains(_ address: IPAddress) -> Bool { network.contains(address, prefix: prefix) }
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
    struct IPAddress: Hashable {
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

        /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it stands for; others as they are.
        var unmappedIPv4: IPAddress {
            guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF
            else { return self }
            var copy = self
            copy.bytes = Array(bytes[12..<16])
            return copy
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

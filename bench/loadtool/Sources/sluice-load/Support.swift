import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock nanoseconds since the Unix epoch: the publisher and the subscribers are separate processes on one
/// machine, so the timestamp embedded in a message must come from a clock they share.
@inline(__always)
func wallClockNanos() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Monotonic nanoseconds, for durations measured inside one process.
@inline(__always)
func monotonicNanos() -> UInt64 {
    NIODeadline.now().uptimeNanoseconds
}

/// `value` with two decimals, without Foundation.
func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = abs(hundredths % 100)
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// An `http://host:port/path?query` target on the loopback interface.
struct Target: Sendable {
    var host: String
    var port: Int
    var pathAndQuery: String
    var address: SocketAddress

    init(url: String) throws {
        guard url.hasPrefix("http://") else { throw UsageError(description: "only http:// URLs: \(url)") }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        pathAndQuery = path.isEmpty ? "/" : String(path)
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...])
        else {
            throw UsageError(description: "the URL needs an explicit port: \(url)")
        }
        host = String(authority[..<colon])
        self.port = port
        let ip = host == "localhost" ? "127.0.0.1" : host
        // The kit runs against local servers only; it must never be pointed at another machine.
        guard ip.hasPrefix("127.") else {
            throw UsageError(description: "loopback (127.0.0.0/8) targets only: \(host)")
        }
        address = try SocketAddress(ipAddress: ip, port: port)
    }

    var hostHeader: String { "\(host):\(port)" }
}

/// Raises the soft open-file limit to the hard limit: ten thousand sockets need more than the usual 1,024.
#if canImport(Glibc)
private let openFileResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let openFileResource = RLIMIT_NOFILE
#endif

@discardableResult
func raiseOpenFileLimit() -> UInt64 {
    var limit = rlimit()
    guard getrlimit(openFileResource, &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(openFileResource, &limit)
        _ = getrlimit(openFileResource, &limit)
    }
    return UInt64(limit.rlim_cur)
}

/// `--name value` options and `--flag` switches.
struct Options {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []

    init(_ arguments: ArraySlice<String>, flags known: Set<String>) throws {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard argument.hasPrefix("--") else { throw UsageError(description: "unexpected argument \(argument)") }
            let name = String(argument.dropFirst(2))
            if known.contains(name) {
                flags.insert(name)
            } else if let value = iterator.next() {
                values[name] = value
            } else {
                throw UsageError(description: "\(argument) needs a value")
            }
        }
    }

    func string(_ name: String) throws -> String {
        guard let value = values[name] else { throw UsageError(description: "--\(name) is required") }
        return value
    }

    func int(_ name: String, default fallback: Int? = nil) throws -> Int {
        guard let text = values[name] else {
            if let fallback { return fallback }
            throw UsageError(description: "--\(name) is required")
        }
        guard let value = Int(text), value >= 0 else {
            throw UsageError(description: "--\(name) must be a non-negative integer")
        }
        return value
    }

    func double(_ name: String, default fallback: Double) throws -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value >= 0 else {
            throw UsageError(description: "--\(name) must be a non-negative number")
        }
        return value
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func has(_ name: String) -> Bool { values[name] != nil }
}

/// Prints a line at once, even when stdout is a pipe or a file an outer script is watching.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// A flat JSON object with numbers and strings, for the one `RESULT` line an outer script parses.
struct ResultLine {
    private var fields: [(String, String)] = []

    mutating func set(_ key: String, _ value: Int) { fields.append((key, String(value))) }
    mutating func set(_ key: String, _ value: Double) {
        fields.append((key, value.isFinite ? String((value * 1000).rounded() / 1000) : "null"))
    }
    mutating func set(_ key: String, _ value: String) { fields.append((key, "\"\(value)\"")) }

    var json: String { "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}" }

    /// The rate of `stats`' deliveries over their span (`delivery_span_seconds`, `delivered_per_second`) and their
    /// latencies: `latency_samples`, `p50_ms`, `p99_ms`, `p999_ms` and `max_ms`.
    mutating func setDeliveries(_ stats: SubscriberStats) {
        if stats.delivered > 0 {
            let span = Double(stats.lastDeliveryNanos - stats.firstDeliveryNanos) / 1e9
            set("delivery_span_seconds", span)
            set("delivered_per_second", span > 0 ? Double(stats.delivered) / span : Double(stats.delivered))
        }
        guard !stats.latenciesMicros.isEmpty else { return }
        let latencies = stats.latenciesMicros.sorted()
        func percentile(_ p: Double) -> Double {
            Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000
        }
        set("latency_samples", latencies.count)
        set("p50_ms", percentile(0.50))
        set("p99_ms", percentile(0.99))
        set("p999_ms", percentile(0.999))
        set("max_ms", Double(latencies[latencies.count - 1]) / 1000)
    }
}

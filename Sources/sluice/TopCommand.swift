import ArgumentParser
import Foundation
import SluiceCore
import SluiceManagement

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sluice top`: the APIs' rates and connections, refreshed live, read from the management API's status.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show each API's request and message rates, errors and open connections, refreshed live.",
        discussion: """
            Reads GET /management/v2/status (a READ_ONLY token is enough) every --interval seconds; rates are the \
            counters' differences between two reads. Press q or Ctrl-C to quit. With --once or --iterations, or \
            when the output is not a terminal, prints each refresh and exits after the last; --output json prints \
            one JSON object per refresh.
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "Seconds between refreshes, 0.1 to 3600.")
    var interval: Double = 1

    @Flag(help: "Print one refresh (rates over one interval) and exit.")
    var once = false

    @Option(help: "Print this many refreshes and exit.")
    var iterations: Int?

    func validate() throws {
        guard interval.isFinite, (0.1...3600).contains(interval) else {
            throw ValidationError("--interval must be between 0.1 and 3600 seconds")
        }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be 1 or more") }
        if once, iterations != nil { throw ValidationError("--once and --iterations cannot go together") }
    }

    func run() async throws {
        var client = self.client.client
        // A refresh that takes longer than its interval is shown as unreachable rather than holding the screen.
        client.timeout = .milliseconds(Int64(max(interval, 2) * 1000))
        let screen = TopScreen(server: client.server, interval: interval)
        let limit = once ? 1 : iterations
        if limit == nil, self.client.output == .table, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 {
            try await TerminalTop(client: client, screen: screen).run()
        } else {
            try await printRefreshes(client: client, screen: screen, limit: limit)
        }
    }

    /// Prints each refresh below the previous one; exits with 1 when the last one could not read the status.
    func printRefreshes(client: ManagementClient, screen: TopScreen, limit: Int?) async throws {
        var reader = StatusReader(client: client)
        _ = await reader.refresh()
        var count = 0
        var failed = false
        while limit.map({ count < $0 }) ?? true {
            try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            count += 1
            let state = await reader.refresh()
            failed = false
            switch (self.client.output, state) {
            case (.json, .shown(let snapshot, let rows)):
                Self.emit(Self.json(snapshot: snapshot, rows: rows, server: client.server).jsonText())
            case (.json, .unreachable(let problem, _)), (.json, .refused(let problem, _)):
                failed = true
                let key = if case .refused = state { "refused" } else { "unreachable" }
                Self.emit(
                    JSONValue.object(
                        JSONObject([
                            ("timestampMs", .number(Double(Self.nowMs()))), ("server", .string(client.server)),
                            (key, .string(problem)),
                        ])
                    ).jsonText())
            case (.table, _):
                switch state {
                case .unreachable, .refused: failed = true
                default: break
                }
                if count > 1 { Self.emit("") }
                let width =
                    TerminalTop.size()?.columns
                    ?? ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init).map { min(max($0, 20), 1000) }
                    ?? 120
                Self.emit(screen.lines(state, width: width, nowMs: Self.nowMs()).joined(separator: "\n"))
            case (.json, .waiting):
                break
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// One refresh for scripts: the snapshot's time and gateway, and a row per API with its rates.
    static func json(snapshot: StatusSnapshot, rows: [StatusRow], server: String) -> JSONValue {
        var gateway = JSONObject([("running", .bool(snapshot.gatewayRunning))])
        if let node = snapshot.node { gateway["node"] = .string(node) }
        if let streams = snapshot.openStreams { gateway["openStreams"] = .number(Double(streams)) }
        return .object(
            JSONObject([
                ("timestampMs", .number(Double(snapshot.timestampMs))), ("server", .string(server)),
                ("gateway", .object(gateway)), ("apis", .array(rows.map(\.json))),
            ]))
    }

    /// A line on standard output, written at once (a script reading a pipe sees each refresh as it comes).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// Reads snapshots and turns each into the screen's state, keeping the previous one for the rates.
struct StatusReader {
    let client: ManagementClient
    private var previous: StatusSnapshot?
    private var lastAnswerMs: Int64?

    init(client: ManagementClient) { self.client = client }

    mutating func refresh() async -> TopScreen.State {
        do {
            guard let answer = try await client.send("GET", "/management/v2/status"),
                let snapshot = StatusSnapshot(json: answer)
            else { return .unreachable("the answer is not a status", lastAnswerMs: lastAnswerMs) }
            let rows = StatusRates.rows(previous: previous, current: snapshot)
            previous = snapshot
            lastAnswerMs = snapshot.timestampMs
            return .shown(snapshot, rows)
        } catch let error as ManagementClientError {
            // A refused token will not get better by retrying, but the screen keeps saying so until q. The server
            // is in the title already: the reason comes first.
            var reason = error.message.split(separator: "\n").first.map(String.init) ?? ""
            if error.status != nil { return .refused(reason, lastAnswerMs: lastAnswerMs) }
            let prefix = "cannot reach the management API at \(client.server): "
            if reason.hasPrefix(prefix) { reason = "no answer: " + reason.dropFirst(prefix.count) }
            return .unreachable(reason, lastAnswerMs: lastAnswerMs)
        } catch {
            return .unreachable("\(error)", lastAnswerMs: lastAnswerMs)
        }
    }
}

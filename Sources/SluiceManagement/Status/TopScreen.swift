import Foundation

/// What `sluice top` shows, as lines of plain text fitted to a terminal's width and height: a title, a line about
/// the gateway (or why the management API cannot be read), and a table with a row per API. The terminal code only
/// writes these lines; everything here is a pure function of its inputs.
public struct TopScreen: Sendable {
    /// The management API read, as the title shows it.
    public var server: String
    /// Seconds between refreshes.
    public var interval: Double

    public init(server: String, interval: Double) {
        self.server = server
        self.interval = interval
    }

    /// What the screen shows now.
    public enum State: Sendable {
        /// Before the first answer.
        case waiting
        /// The latest snapshot and its rows.
        case shown(StatusSnapshot, [StatusRow])
        /// The management API did not answer: why, and the time of the last answer (ms since 1970), if any.
        case unreachable(String, lastAnswerMs: Int64?)
        /// The management API answered with an error (a token refused, a store that cannot be reached): its
        /// problem, and the time of the last answer, if any.
        case refused(String, lastAnswerMs: Int64?)
    }

    /// A column of the table: its header, its width, and whether its text is aligned right.
    struct Column {
        var header: String
        var width: Int
        var right: Bool
        var value: (StatusRow) -> String
    }

    /// The screen's lines, each at most `width` characters; at most `height` lines when given.
    public func lines(_ state: State, width: Int, height: Int? = nil, nowMs: Int64) -> [String] {
        let width = max(width, 20)
        var lines = [title(nowMs: nowMs)]
        var rows: [StatusRow] = []
        switch state {
        case .waiting:
            lines.append("waiting for the management API…")
        case .shown(let snapshot, let shown):
            rows = shown
            lines.append(Self.gatewayLine(snapshot))
        case .unreachable(let problem, let lastAnswerMs):
            lines.append(failure("UNREACHABLE", problem, lastAnswerMs: lastAnswerMs))
        case .refused(let problem, let lastAnswerMs):
            lines.append(failure("REFUSED", problem, lastAnswerMs: lastAnswerMs))
        }
        if case .shown = state {
            lines.append("")
            lines += table(rows, width: width, height: height.map { $0 - lines.count })
        }
        if let height, lines.count > height { lines = Array(lines.prefix(max(height, 0))) }
        return lines.map { Self.fit($0, width) }
    }

    func failure(_ label: String, _ problem: String, lastAnswerMs: Int64?) -> String {
        var line = "\(label): \(problem); retrying every \(Self.seconds(interval))"
        if let lastAnswerMs { line += " (last answer \(Self.clock(lastAnswerMs)))" }
        return line
    }

    func title(nowMs: Int64) -> String {
        "sluice top  \(server)  \(Self.clock(nowMs))  every \(Self.seconds(interval))  (q quits)"
    }

    static func gatewayLine(_ snapshot: StatusSnapshot) -> String {
        let count = "\(snapshot.apis.count) API\(snapshot.apis.count == 1 ? "" : "s")"
        guard snapshot.gatewayRunning else {
            return "\(count); no gateway runs in this process (serve --role management): no live numbers"
        }
        var line = "gateway \(snapshot.node ?? "")  \(count)"
        if let streams = snapshot.openStreams { line += "  \(streams) open connections" }
        if snapshot.truncated { line += "  (the first APIs only)" }
        return line
    }

    /// The table: the API's name takes what the numbers leave, the endpoints column what is left after it. On a
    /// narrow terminal the errors, then the requests, then the state columns go first, so that the messages and
    /// connections stay; rows past `height` are summed up in a last line.
    func table(_ rows: [StatusRow], width: Int, height: Int?) -> [String] {
        guard !rows.isEmpty else { return ["no APIs"] }
        var numbers: [Column] = [
            Column(header: "STATE", width: 7, right: false) { $0.state },
            Column(header: "REQ/S", width: 8, right: true) { Self.rate($0.requestsPerSecond) },
            Column(header: "MSG IN/S", width: 9, right: true) { Self.rate($0.messagesInPerSecond) },
            Column(header: "MSG OUT/S", width: 9, right: true) { Self.rate($0.messagesOutPerSecond) },
            Column(header: "ERR/S", width: 7, right: true) { Self.rate($0.errorsPerSecond) },
            Column(header: "CONNS", width: 6, right: true) { $0.openConnections.map(String.init) ?? "-" },
        ]
        let minimumName = 8
        for header in ["ERR/S", "REQ/S", "STATE"] where minimumName + numbers.reduce(0, { $0 + $1.width + 2 }) > width {
            numbers.removeAll { $0.header == header }
        }
        let fixed = numbers.reduce(0) { $0 + $1.width + 2 }
        let longestName = rows.reduce(3) { max($0, $1.name.count) }
        let nameWidth = max(min(longestName, 32, width - fixed), minimumName)
        var columns = [Column(header: "API", width: nameWidth, right: false) { $0.name }] + numbers
        let left = width - nameWidth - fixed - 2
        if left >= 8 {
            let longestEndpoints = rows.reduce(9) { max($0, $1.endpointSummary.count) }
            columns.append(
                Column(header: "ENDPOINTS", width: min(left, longestEndpoints), right: false) { $0.endpointSummary })
        }
        func line(_ cells: [String]) -> String {
            zip(columns, cells).map { column, cell in
                let text = Self.fit(cell, column.width)
                let pad = String(repeating: " ", count: column.width - text.count)
                return column.right ? pad + text : text + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var lines = [line(columns.map(\.header))]
        let room = height.map { max($0 - 1, 0) } ?? rows.count
        let shown = rows.count <= room ? rows.count : max(room - 1, 0)
        for row in rows.prefix(shown) { lines.append(line(columns.map { $0.value(row) })) }
        if shown < rows.count { lines.append("… \(rows.count - shown) more") }
        return lines
    }

    /// A rate for a table cell: `-` when unknown, one decimal under 100, whole numbers up to 99 999, then k and M.
    public static func rate(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        switch value {
        case ..<100: return String(format: "%.1f", value)
        case ..<100_000: return String(format: "%.0f", value)
        case ..<100_000_000: return String(format: "%.1fk", value / 1000)
        default: return String(format: "%.1fM", value / 1_000_000)
        }
    }

    /// `text` cut to `width` characters, with an ellipsis when cut.
    static func fit(_ text: String, _ width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return String(text.prefix(max(width, 0))) }
        return String(text.prefix(width - 1)) + "…"
    }

    static func seconds(_ interval: Double) -> String {
        interval == interval.rounded() ? "\(Int(interval)) s" : String(format: "%.1f s", interval)
    }

    /// `HH:MM:SS UTC`.
    static func clock(_ milliseconds: Int64) -> String {
        let seconds = Int((milliseconds / 1000) % 86_400 + 86_400) % 86_400
        return String(format: "%02d:%02d:%02d UTC", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}

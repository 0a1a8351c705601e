import Foundation
import SluiceCore
import SluiceGateway
import SluiceManagement
import Testing

/// `sluice top`'s rates and lines, from known snapshots, without a terminal.
@Suite("sluice top: rates and screen")
struct TopScreenTests {
    static func counters(
        requests: Int64 = 0, messagesIn: Int64 = 0, messagesOut: Int64 = 0, errors: Int64 = 0
    )
        -> StatusCounters
    {
        var counters = StatusCounters()
        counters.requests = requests
        counters.messagesIn = messagesIn
        counters.messagesOut = messagesOut
        counters.serverErrors = errors
        counters.messageErrors = errors
        return counters
    }

    static func api(
        _ id: String, _ name: String, state: String = "STARTED", deployed: Bool = true,
        endpoint: StatusSnapshot.Endpoint, connections: Int64? = 0, counters: StatusCounters?
    ) -> StatusSnapshot.API {
        StatusSnapshot.API(
            id: id, name: name, state: state, deployed: deployed,
            entrypoints: [.init(type: "http-post", paths: ["/\(id)"]), .init(type: "sse", paths: ["/\(id)"])],
            endpoints: [endpoint], openConnections: connections, counters: counters)
    }

    /// 12:34:54 UTC, then 12:34:56 UTC: two seconds apart.
    static let previous = StatusSnapshot(
        timestampMs: 45_294_000, gatewayRunning: true, node: "gw-1", openStreams: 2,
        apis: [
            api(
                "audit", "Audit log", state: "STOPPED", deployed: false,
                endpoint: .init(name: "broker", type: "mqtt5", state: nil), counters: counters()),
            api(
                "orders", "Orders", endpoint: .init(name: "default", type: "kafka", state: "connected"), connections: 2,
                counters: counters(requests: 10, messagesIn: 10, messagesOut: 4)),
            api(
                "ticker", "Ticker", endpoint: .init(name: "mock", type: "mock", state: "embedded"),
                counters: counters(messagesOut: 100)),
        ])
    static let current = StatusSnapshot(
        timestampMs: 45_296_000, gatewayRunning: true, node: "gw-1", openStreams: 3,
        apis: [
            api(
                "audit", "Audit log", state: "STOPPED", deployed: false,
                endpoint: .init(name: "broker", type: "mqtt5", state: nil), counters: counters()),
            api(
                "orders", "Orders", endpoint: .init(name: "default", type: "kafka", state: "connected"), connections: 3,
                counters: counters(requests: 30, messagesIn: 30, messagesOut: 24, errors: 1)),
            api(
                "ticker", "Ticker", endpoint: .init(name: "mock", type: "mock", state: "embedded"),
                counters: counters(messagesOut: 400)),
        ])

    @Test("rates are the counters' differences over the seconds between the snapshots")
    func rates() throws {
        let rows = StatusRates.rows(previous: Self.previous, current: Self.current)
        #expect(rows.map(\.id) == ["audit", "orders", "ticker"])
        let orders = rows[1]
        #expect(orders.requestsPerSecond == 10)
        #expect(orders.messagesInPerSecond == 10)
        #expect(orders.messagesOutPerSecond == 10)
        #expect(orders.errorsPerSecond == 1)
        #expect(orders.openConnections == 3)
        #expect(orders.endpointSummary == "kafka:connected")
        #expect(rows[2].messagesOutPerSecond == 150)
        #expect(rows[0].messagesInPerSecond == 0)
        #expect(rows[0].endpointSummary == "mqtt5")
    }

    @Test("no rate for the first snapshot, a counter that went back, an API that is new, or no live numbers")
    func unknownRates() {
        #expect(StatusRates.rows(previous: nil, current: Self.current).allSatisfy { $0.requestsPerSecond == nil })
        // The gateway restarted: its counters start again from zero.
        var restarted = Self.current
        restarted.timestampMs += 1000
        restarted.apis[1].counters = Self.counters(requests: 2)
        let afterRestart = StatusRates.rows(previous: Self.current, current: restarted)
        #expect(afterRestart[1].requestsPerSecond == nil)
        #expect(afterRestart[2].messagesOutPerSecond == 0)
        // A snapshot no later than the previous one.
        #expect(StatusRates.rows(previous: Self.current, current: Self.current)[1].requestsPerSecond == nil)
        var added = Self.current
        added.apis.append(
            Self.api(
                "new", "New", endpoint: .init(name: "e", type: "inmemory", state: "embedded"),
                counters: Self.counters(requests: 5)))
        #expect(StatusRates.rows(previous: Self.previous, current: added)[3].requestsPerSecond == nil)
        var storeOnly = Self.current
        storeOnly.gatewayRunning = false
        for index in storeOnly.apis.indices { storeOnly.apis[index].counters = nil }
        let rows = StatusRates.rows(previous: Self.previous, current: storeOnly)
        #expect(rows.allSatisfy { $0.messagesInPerSecond == nil && $0.errorsPerSecond == nil })
    }

    static let screen = TopScreen(server: "http://127.0.0.1:8083", interval: 1)
    static var shown: TopScreen.State {
        .shown(current, StatusRates.rows(previous: previous, current: current))
    }

    @Test("the screen on a wide terminal: title, gateway, and every column")
    func wide() {
        #expect(
            Self.screen.lines(Self.shown, width: 100, nowMs: 45_296_000) == [
                "sluice top  http://127.0.0.1:8083  12:34:56 UTC  every 1 s  (q quits)",
                "gateway gw-1  3 APIs  3 open connections",
                "",
                "API        STATE       REQ/S   MSG IN/S  MSG OUT/S    ERR/S   CONNS  ENDPOINTS",
                "Audit log  STOPPED       0.0        0.0        0.0      0.0       0  mqtt5",
                "Orders     STARTED      10.0       10.0       10.0      1.0       3  kafka:connected",
                "Ticker     STARTED       0.0        0.0        150      0.0       0  mock:embedded",
            ])
    }

    @Test("on a narrow terminal the endpoints and then the errors go; no line is wider than the terminal")
    func narrow() {
        let lines = Self.screen.lines(Self.shown, width: 60, nowMs: 45_296_000)
        #expect(
            Array(lines.dropFirst(3)) == [
                "API        STATE       REQ/S   MSG IN/S  MSG OUT/S   CONNS",
                "Audit log  STOPPED       0.0        0.0        0.0       0",
                "Orders     STARTED      10.0       10.0       10.0       3",
                "Ticker     STARTED       0.0        0.0        150       0",
            ])
        #expect(lines[0] == "sluice top  http://127.0.0.1:8083  12:34:56 UTC  every 1 s …")
        for width in [20, 33, 47, 59, 61, 75, 83, 84, 200] {
            let fitted = Self.screen.lines(Self.shown, width: width, nowMs: 45_296_000)
            #expect(fitted.allSatisfy { $0.count <= width }, "width \(width): \(fitted)")
            #expect(fitted.count == 7)
        }
        // A long name is cut with an ellipsis.
        var long = Self.current
        long.apis[1].name = String(repeating: "n", count: 60)
        let cut = Self.screen.lines(.shown(long, StatusRates.rows(previous: nil, current: long)), width: 100, nowMs: 0)
        #expect(cut[5].hasPrefix(String(repeating: "n", count: 31) + "…  STARTED"))
    }

    @Test("rows past the terminal's height are summed up in a last line")
    func height() {
        #expect(
            Self.screen.lines(Self.shown, width: 100, height: 6, nowMs: 45_296_000).suffix(3) == [
                "API        STATE       REQ/S   MSG IN/S  MSG OUT/S    ERR/S   CONNS  ENDPOINTS",
                "Audit log  STOPPED       0.0        0.0        0.0      0.0       0  mqtt5",
                "… 2 more",
            ])
    }

    @Test("an unreachable management API is said, with the time of the last answer; no live numbers is said too")
    func unreachable() {
        let problem = "no answer: connection reset (error set): Connection refused) (errno: 111)"
        #expect(
            Self.screen.lines(.unreachable(problem, lastAnswerMs: 45_290_000), width: 80, nowMs: 45_296_000) == [
                "sluice top  http://127.0.0.1:8083  12:34:56 UTC  every 1 s  (q quits)",
                "UNREACHABLE: no answer: connection reset (error set): Connection refused) (errn…",
            ])
        #expect(
            Self.screen.lines(.unreachable("no answer: timed out", lastAnswerMs: nil), width: 80, nowMs: 0)[1]
                == "UNREACHABLE: no answer: timed out; retrying every 1 s")
        #expect(
            Self.screen.lines(.refused("Unauthorized (HTTP 401)", lastAnswerMs: 45_290_000), width: 80, nowMs: 0)[1]
                == "REFUSED: Unauthorized (HTTP 401); retrying every 1 s (last answer 12:34:50 UTC)")
        var storeOnly = Self.current
        storeOnly.gatewayRunning = false
        for index in storeOnly.apis.indices {
            storeOnly.apis[index].counters = nil
            storeOnly.apis[index].openConnections = nil
            storeOnly.apis[index].endpoints[0].state = nil
        }
        let lines = Self.screen.lines(
            .shown(storeOnly, StatusRates.rows(previous: nil, current: storeOnly)), width: 100, nowMs: 0)
        #expect(lines[1] == "3 APIs; no gateway runs in this process (serve --role management): no live numbers")
        #expect(lines[5] == "Orders     STARTED         -          -          -        -       -  kafka")
        #expect(Self.screen.lines(.waiting, width: 80, nowMs: 0)[1] == "waiting for the management API…")
    }

    @Test("rates are written short: one decimal under 100, then whole, then k and M")
    func rateText() {
        #expect(TopScreen.rate(nil) == "-")
        #expect(TopScreen.rate(0.04) == "0.0")
        #expect(TopScreen.rate(99.94) == "99.9")
        #expect(TopScreen.rate(12_345.4) == "12345")
        #expect(TopScreen.rate(250_000) == "250.0k")
        #expect(TopScreen.rate(3_200_000_000) == "3200.0M")
        #expect(TopScreen.rate(.nan) == "-")
    }

    @Test("a snapshot reads back from its JSON as it was")
    func json() throws {
        let text = Self.current.json.jsonText()
        let read = try #require(StatusSnapshot(json: try JSONValue.parse(json: Data(text.utf8))))
        #expect(read == Self.current)
        #expect(StatusSnapshot(json: .object(JSONObject([("apis", .array([]))]))) == nil)
    }
}

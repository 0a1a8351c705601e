import Testing

@testable import SluiceGateway

/// The status's counters, read back from the metrics registry's text.
@Suite struct StatusTotalsTests {
    @Test("samples of the families asked for, labels unescaped, other families and comments skipped")
    func reader() {
        let reader = PrometheusSampleReader(names: ["a_total", "b"], labels: ["api"])
        let samples = reader.samples(
            in: """
                # HELP a_total A
                # TYPE a_total counter
                a_total{api="x \\"y\\"\\\\z",plan="p"} 3
                a_totalx{api="x"} 9
                b 1.5
                c{api="x"} 4
                a_total{api="broken} 7
                a_total{api="w"}
                """)
        #expect(
            samples == [
                .init(name: "a_total", labels: ["api": #"x "y"\z"#], value: 3),
                .init(name: "b", labels: [:], value: 1.5),
            ])
    }

    @Test("per API: requests with their 5xx, messages, bytes, rejections and open connections summed over series")
    func totals() {
        let totals = StatusTotals.read(
            """
            sluice_requests_total{api="orders",plan="p",application="none",entrypoint="http-post",endpoint="kafka",status="202"} 5
            sluice_requests_total{api="orders",plan="p",application="none",entrypoint="http-post",endpoint="kafka",status="503"} 2
            sluice_requests_total{api="orders",plan="p",application="none",entrypoint="http-post",endpoint="kafka",status="429"} 1
            sluice_rate_limit_rejections_total{api="orders",plan="p",application="none",entrypoint="http-post",endpoint="kafka"} 1
            sluice_messages_in_total{api="orders",plan="p",application="a",entrypoint="http-post",endpoint="kafka"} 4
            sluice_messages_in_total{api="orders",plan="p",application="b",entrypoint="http-post",endpoint="kafka"} 1
            sluice_messages_out_total{api="orders",plan="p",application="none",entrypoint="sse",endpoint="kafka"} 6
            sluice_message_errors_total{api="orders",plan="p",application="none",entrypoint="http-post",endpoint="kafka"} 2
            sluice_messages_filtered_total{api="orders",plan="p",application="none",entrypoint="sse",endpoint="kafka"} 1
            sluice_request_body_bytes_total{api="orders",plan="p",application="none",entrypoint="http-post",endpoint="kafka"} 100
            sluice_response_body_bytes_total{api="orders",plan="p",application="none",entrypoint="sse",endpoint="kafka"} 250
            sluice_active_stream_connections{api="orders",plan="p",application="none",entrypoint="sse",endpoint="kafka"} 2
            sluice_active_stream_connections{api="orders",plan="p",application="none",entrypoint="websocket",endpoint="kafka"} 1
            sluice_request_duration_seconds_bucket{api="orders",plan="p",le="0.001"} 99
            sluice_active_stream_connections{api="ticker",plan="p",application="none",entrypoint="sse",endpoint="mock"} 0
            """)
        var orders = StatusCounters()
        orders.requests = 8
        orders.serverErrors = 2
        orders.rateLimited = 1
        orders.messagesIn = 5
        orders.messagesOut = 6
        orders.messageErrors = 2
        orders.messagesFiltered = 1
        orders.bytesIn = 100
        orders.bytesOut = 250
        #expect(totals["orders"] == StatusTotals(counters: orders, openConnections: 3))
        #expect(totals["ticker"] == StatusTotals())
        #expect(totals.count == 2)
    }
}

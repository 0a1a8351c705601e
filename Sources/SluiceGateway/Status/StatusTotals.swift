/// One API's sums over the series of the metrics registry.
struct StatusTotals: Equatable {
    var counters = StatusCounters()
    var openConnections: Int64 = 0

    static let reader = PrometheusSampleReader(
        names: [
            "sluice_requests_total", "sluice_rate_limit_rejections_total", "sluice_messages_in_total",
            "sluice_messages_out_total", "sluice_message_errors_total", "sluice_messages_filtered_total",
            "sluice_request_body_bytes_total", "sluice_response_body_bytes_total", "sluice_active_stream_connections",
        ],
        labels: ["api", "status"])

    /// Sums the samples of `text` per API.
    static func read(_ text: String) -> [String: StatusTotals] {
        var totals: [String: StatusTotals] = [:]
        for sample in reader.samples(in: text) {
            guard let api = sample.labels["api"], sample.value.isFinite, abs(sample.value) < 9e18 else { continue }
            let value = Int64(sample.value.rounded())
            var total = totals[api] ?? StatusTotals()
            switch sample.name {
            case "sluice_requests_total":
                total.counters.requests += value
                if let status = sample.labels["status"].flatMap(Int.init), status >= 500 {
                    total.counters.serverErrors += value
                }
            case "sluice_rate_limit_rejections_total": total.counters.rateLimited += value
            case "sluice_messages_in_total": total.counters.messagesIn += value
            case "sluice_messages_out_total": total.counters.messagesOut += value
            case "sluice_message_errors_total": total.counters.messageErrors += value
            case "sluice_messages_filtered_total": total.counters.messagesFiltered += value
            case "sluice_request_body_bytes_total": total.counters.bytesIn += value
            case "sluice_response_body_bytes_total": total.counters.bytesOut += value
            case "sluice_active_stream_connections": total.openConnections += value
            default: break
            }
            totals[api] = total
        }
        return totals
    }
}

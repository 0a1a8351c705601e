import SluiceCore
import SluiceEntrypoints

extension WebhookDispatcher {
    /// Adds each running webhook subscription's status and counters, labelled by `api` and `subscription`.
    ///
    /// Status follows Prometheus' convention for states: one sample per status, 1 for the current one. A
    /// subscription in `FAILURE` also has an `_failure_info` sample whose `reason` label says why. Counters start
    /// at 0 when a delivery (re)starts on this node (a changed subscription, a redeployed API), which Prometheus
    /// reads as a counter reset.
    func writeMetrics(into exposition: inout PrometheusExposition) {
        let deliveries = self.deliveries
        typealias Sample = PrometheusExposition.Sample
        func labels(_ delivery: WebhookDelivery) -> [(name: String, value: String)] {
            [("api", delivery.apiID), ("subscription", delivery.subscriptionID)]
        }
        let statuses: [WebhookDeliveryStateMachine.Status] = [.accepted, .paused, .failure]
        var status: [Sample] = []
        var failures: [Sample] = []
        for delivery in deliveries {
            let current = delivery.status
            for candidate in statuses {
                status.append(
                    Sample(
                        labels: labels(delivery) + [("status", candidate.rawValue)],
                        value: candidate == current ? 1 : 0))
            }
            if current == .failure {
                failures.append(
                    Sample(labels: labels(delivery) + [("reason", delivery.failureReason ?? "")], value: 1))
            }
        }
        exposition.family(
            "sluice_webhook_subscription_status", .gauge,
            help: "Status of a webhook subscription on this node: 1 for the current one (ACCEPTED, PAUSED, FAILURE).",
            status)
        exposition.family(
            "sluice_webhook_subscription_failure_info", .gauge,
            help: "A webhook subscription in FAILURE on this node, with the reason.", failures)
        let counters: [(String, String, KeyPath<WebhookDelivery.Counters, Int>)] = [
            ("sluice_webhook_delivered_total", "Messages the callback acknowledged (2xx).", \.delivered),
            ("sluice_webhook_retries_total", "Failed attempts tried again, probes in FAILURE included.", \.retries),
            ("sluice_webhook_dead_lettered_total", "Messages given up and published to the DLQ.", \.deadLettered),
            ("sluice_webhook_dropped_total", "Messages given up without a DLQ.", \.dropped),
            ("sluice_webhook_filtered_total", "Messages a flow step dropped before delivery.", \.filtered),
        ]
        let snapshots = deliveries.map { ($0, $0.counters) }
        for (name, help, field) in counters {
            exposition.family(
                name, .counter, help: help,
                snapshots.map { Sample(labels: labels($0.0), value: Double($0.1[keyPath: field])) })
        }
    }
}

// What the webhook suites of every endpoint write alike: the subscription listener with a webhook entrypoint and
// short timeouts and retries, and the access file of their subscriptions.

/// Gravitee v4 pieces of a webhook API and its subscriptions, for the webhook suites.
package enum WebhookFixtures {
    /// A `subscription` listener with one webhook entrypoint: 1 s read timeout, 500 ms connect timeout, retries
    /// 20 ms apart at first, at most 200 ms.
    package static func listener(qos: String, maxRetries: Int = 2) -> String {
        let configuration =
            #"{ "http": { "readTimeout": 1000, "connectTimeout": 500 }, "retry": { "maxRetries": \#(maxRetries), "delayMs": 20, "maxDelayMs": 200 } }"#
        return
            #"{ "type": "subscription", "entrypoints": [{ "type": "webhook", "qos": "\#(qos)", "configuration": \#(configuration) }] }"#
    }

    /// One webhook subscription of application `partner` to API `api`'s `push` plan, as an access file lists it.
    package static func subscription(
        _ id: String, api: String = "hooks", callback: String, status: String = "ACCEPTED"
    ) -> String {
        """
          - id: \(id)
            application: partner
            api: \(api)
            plan: push
            status: \(status)
            configuration:
              entrypointId: webhook
              entrypointConfiguration: { callbackUrl: "\(callback)" }
        """
    }

    /// An access file with application `partner` and `subscriptions` (from ``subscription(_:api:callback:status:)``).
    package static func access(_ subscriptions: [String]) -> String {
        "applications: [{ id: partner }]\nsubscriptions:\n" + subscriptions.joined(separator: "\n") + "\n"
    }
}

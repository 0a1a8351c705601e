import Foundation
import HTTPTypes
import HummingbirdCore
import SluiceCore

extension Deployment {
    /// Starts a request's run through the API's flows (picking its flows); nil when the API has nothing for the
    /// flow engine to run.
    func startFlows(
        plan: SecurityChain.ResolvedPlan, access: AccessSnapshot, entrypoint: String, method: String, uri: URI,
        contextPath: String, headers: HTTPFields, remoteAddress: String?, localAddress: String?, host: String?
    ) -> FlowRun? {
        guard let flows else { return nil }
        var requestHeaders = MessageHeaders()
        for field in headers { requestHeaders.add(name: field.name.rawName, value: field.value) }
        var query: [(name: String, value: String)] = []
        for (name, value) in uri.queryParameters { query.append((String(name), String(value))) }
        let request = FlowRequest(
            path: String(Self.relativePath(uri.path, contextPath: contextPath)), contextPath: contextPath,
            method: method, entrypoint: entrypoint, operations: operations(of: entrypoint), headers: requestHeaders,
            query: query, remoteAddress: remoteAddress, localAddress: localAddress, host: host, plan: plan.id,
            subscription: access.flowSubscription(for: plan), id: UUID().uuidString,
            timestamp: Date.nowMilliseconds)
        return flows.start(request)
    }
}

extension Deployment {
    /// The run through the API's flows of a webhook subscription's messages (their `subscribe` phase), one for the
    /// life of its delivery as for a stream; nil when no flow of the API or the subscription's plan has a step
    /// there. The flows see the `webhook` entrypoint, the subscribe operation and the channel `/`.
    func startWebhookFlows(subscription: AccessData.Subscription, access: AccessSnapshot) -> FlowRun? {
        guard let flows else { return nil }
        let request = FlowRequest(
            path: "/", contextPath: "/", method: "GET", entrypoint: "webhook", operations: [.subscribe],
            plan: subscription.plan, subscription: access.flowSubscription(subscription), id: UUID().uuidString,
            timestamp: Date.nowMilliseconds)
        let run = flows.start(request)
        return run.runs(FlowPhase.subscribe) ? run : nil
    }
}

extension MessageHeaders {
    /// These headers as HTTP fields (names that are not valid HTTP field names are left out).
    var httpFields: HTTPFields {
        var fields = HTTPFields()
        for (name, value) in self {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return fields
    }

    init(_ fields: HTTPFields) {
        self.init()
        for field in fields { add(name: field.name.rawName, value: field.value) }
    }
}

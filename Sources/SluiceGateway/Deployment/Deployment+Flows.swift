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
        return flows.start(
            flowRequest(
                plan: plan, access: access, entrypoint: entrypoint, method: method, uri: uri, contextPath: contextPath,
                headers: headers, remoteAddress: remoteAddress, localAddress: localAddress, host: host))
    }

    /// The request as expressions see it (`#request`, `#subscription`).
    func flowRequest(
        plan: SecurityChain.ResolvedPlan, access: AccessSnapshot, entrypoint: String, method: String, uri: URI,
        contextPath: String, headers: HTTPFields, remoteAddress: String?, localAddress: String?, host: String?
    ) -> FlowRequest {
        var requestHeaders = MessageHeaders()
        for field in headers { requestHeaders.add(name: field.name.rawName, value: field.value) }
        var query: [(name: String, value: String)] = []
        for (name, value) in uri.queryParameters { query.append((String(name), String(value))) }
        return FlowRequest(
            path: String(Self.relativePath(uri.path, contextPath: contextPath)), contextPath: contextPath,
            method: method, entrypoint: entrypoint, operations: operations(of: entrypoint), headers: requestHeaders,
            query: query, remoteAddress: remoteAddress, localAddress: localAddress, host: host, plan: plan.id,
            subscription: access.flowSubscription(for: plan), id: UUID().uuidString,
            timestamp: Date.nowMilliseconds)
    }

    /// What the entrypoint tells of the request's messages (metrics, message log); `request` is built only when
    /// the API's message logging has conditions to evaluate on it.
    func messageObserver(
        plan: SecurityChain.ResolvedPlan, entrypoint: String, request: () -> FlowRequest
    ) -> RequestMessageObserver? {
        let scope = observation.messageLog?.hasConditions == true ? FlowRun.requestScope(request(), api: api) : nil
        return observation.messageObserver(plan: plan, entrypoint: entrypoint, logScope: scope)
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

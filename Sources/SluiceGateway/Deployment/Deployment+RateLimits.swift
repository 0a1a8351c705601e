import HTTPTypes
import NIOHTTP1
import SluiceCore
import SluiceEntrypoints

extension Deployment {
    /// The rate-limit steps that apply to a request, as the event-loop and async paths both select them; nil when
    /// none does (the common case costs one check).
    func rateLimitGate(
        _ phases: [RateLimitRules.Phase], plan: SecurityChain.ResolvedPlan, entrypoint: String,
        clientAddress: @autoclosure () -> String?, path: @autoclosure () -> String, contextPath: String,
        method: @autoclosure () -> String
    ) -> RateLimitGate? {
        guard let rateLimits else { return nil }
        let request = RateLimitRequest(
            api: id, plan: plan, clientAddress: clientAddress(),
            path: Self.relativePath(path(), contextPath: contextPath), method: method(), entrypoint: entrypoint,
            operations: operations(of: entrypoint))
        let gate = rateLimits.gate(phases, for: request)
        return gate.isEmpty ? nil : gate
    }

    /// What an entrypoint of this API does, for flows' channel selectors.
    func operations(of entrypoint: String) -> Set<ConnectorMode> {
        switch entrypoint {
        case HTTPPostEntrypoint.type: [.publish]
        case WebSocketEntrypoint.type:
            Set(
                [
                    webSocket?.entrypoint.configuration.publisherEnabled != false ? ConnectorMode.publish : nil,
                    webSocket?.entrypoint.configuration.subscriberEnabled != false ? ConnectorMode.subscribe : nil,
                ].compactMap { $0 })
        default: [.subscribe]
        }
    }

    /// The part of `path` after the context path.
    static func relativePath(_ path: String, contextPath: String) -> Substring {
        contextPath == "/" ? path[...] : path.dropFirst(contextPath.count)
    }
}

extension RateLimitOutcome {
    var fields: HTTPFields {
        HTTPFields(
            headers.compactMap { header in HTTPField.Name(header.name).map { HTTPField(name: $0, value: header.value) }
            })
    }

    var nioHeaders: HTTPHeaders { HTTPHeaders(headers.map { ($0.name, $0.value) }) }
}

extension EntrypointInvocation {
    /// This invocation with headers that every response to the request carries.
    func with(responseHeaders: HTTPFields) -> EntrypointInvocation {
        guard !responseHeaders.isEmpty else { return self }
        var copy = self
        copy.responseHeaders = responseHeaders
        return copy
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import Prometheus
import SluiceCore
import SluiceEntrypoints

/// A request on its way through a connection, for its metrics and its access log line.
struct ObservedRequest {
    var series: RequestSeries?
    var accessLog: AccessLog?
    var api: String?
    /// The plan and application that let the request in (not the whole plan: this value is copied around).
    var planID: String?
    var application: String?
    var entrypoint: String?
    var secretParameters: Set<String> = []
    /// When the request's head came (uptime, nanoseconds).
    var started: UInt64
    /// The same moment as wall-clock milliseconds, read only for the access log.
    var timestampMs: Int64 = 0
    var method: HTTPMethod
    /// The request target, kept only for the access log.
    var target: String = ""
    var status = 0
    var answeredAt: UInt64?
    var bytesIn = 0
    var bytesOut = 0
    var messagesIn: Int?
    var messagesOut: Int?
    var stream = false
}

extension EventLoopEntrypointHandler {
    /// The series of a request that `plan` let in through `entrypoint`: the connection's last one when it is the
    /// same (a keep-alive client calling the same API: a few string comparisons), else the gateway's.
    func series(
        _ observation: DeploymentObservation, plan: SecurityChain.ResolvedPlan?, entrypoint: String
    ) -> RequestSeries? {
        guard observation.metrics != nil else { return nil }
        if let last = lastSeries, last.key.api == observation.api, last.key.entrypoint == entrypoint,
            last.key.plan == (plan?.id ?? "none"), last.rawApplication == plan?.application,
            last.key.endpoint == observation.endpoint
        {
            return last
        }
        let found = observation.series(plan: plan, entrypoint: entrypoint)
        lastSeries = found
        return found
    }

    /// Starts observing a request, when the gateway keeps metrics or an access log.
    func observe(
        _ head: HTTPRequestHead, deployment: Deployment?, plan: SecurityChain.ResolvedPlan?, entrypoint: String?
    ) -> ObservedRequest? {
        let observation = deployment?.observation
        let accessLog = observation?.accessLog ?? registry.observability?.accessLog
        guard observation?.metrics != nil || accessLog != nil else { return nil }
        var observed = ObservedRequest(
            series: nil, accessLog: accessLog, api: deployment?.id, planID: plan?.id, application: plan?.application,
            entrypoint: entrypoint,
            started: NIODeadline.now().uptimeNanoseconds, method: head.method)
        if let observation, let entrypoint, plan != nil {
            observed.series = series(observation, plan: plan, entrypoint: entrypoint)
        }
        if accessLog != nil {
            observed.timestampMs = Date.nowMilliseconds
            observed.target = head.uri
            observed.secretParameters = observation?.secretParameters ?? []
        }
        return observed
    }

    /// The request's answer has ended: its counts go to its series and its line to the access log.
    func finish(_ observed: ObservedRequest, countBytesOut: Bool = true) {
        let now = NIODeadline.now().uptimeNanoseconds
        let elapsed = Int64(now &- observed.started)
        if let series = observed.series {
            // A keep-alive client mostly gets the same status from the same series: its counter is kept.
            let counter: Counter
            if let last = lastStatusCounter, last.series === series, last.status == observed.status {
                counter = last.counter
            } else {
                counter = series.requests(status: observed.status)
                lastStatusCounter = (series, observed.status, counter)
            }
            series.record(
                counter, status: observed.status, nanoseconds: elapsed, bytesIn: observed.bytesIn,
                bytesOut: countBytesOut ? observed.bytesOut : 0)
        }
        guard let accessLog = observed.accessLog else { return }
        lines(of: accessLog).append(
            AccessLogEntry(
                timestampMs: observed.timestampMs, api: observed.api, plan: observed.planID,
                application: observed.application, entrypoint: observed.entrypoint,
                method: observed.method.rawValue, target: observed.target,
                secretParameters: observed.secretParameters, status: observed.status,
                durationNanoseconds: elapsed,
                firstByteNanoseconds: observed.stream ? observed.answeredAt.map { Int64($0 &- observed.started) } : nil,
                bytesIn: observed.bytesIn, bytesOut: observed.bytesOut, messagesIn: observed.messagesIn,
                messagesOut: observed.messagesOut, stream: observed.stream))
    }

    /// This connection's loop's line buffer of `accessLog`.
    func lines(of accessLog: AccessLog) -> LoopLines {
        if let (log, lines) = loopLines, log === accessLog { return lines }
        let lines = accessLog.lines(on: eventLoop!)
        loopLines = (accessLog, lines)
        return lines
    }

    /// The entrypoint the async responder will choose for a request, as it chooses it.
    static func entrypointType(of head: HTTPRequestHead, in deployment: Deployment) -> String? {
        if deployment.httpProxy != nil { return HTTPProxyEntrypoint.type }
        if head.method == .POST, deployment.httpPost != nil { return HTTPPostEntrypoint.type }
        if head.method == .GET, deployment.sse != nil,
            head.headers["accept"].contains(where: { $0.lowercased().contains("text/event-stream") })
        {
            return SSEEntrypoint.type
        }
        if head.method == .GET, deployment.httpGet != nil { return HTTPGetEntrypoint.type }
        return nil
    }

    /// A request passed on to the async responder: observed from its head to its answer's end.
    func observePassedOn(_ head: HTTPRequestHead, routed: Deployment?) {
        guard registry.observability != nil else { return }
        let deployment = routed ?? route(head)?.route.deployment
        let entrypoint = deployment.flatMap { Self.entrypointType(of: head, in: $0) }
        guard let observed = observe(head, deployment: deployment, plan: nil, entrypoint: entrypoint) else { return }
        passedOn.append(PassedOnRequest(observed: observed, deployment: deployment))
    }

    /// What the async responder writes for the requests passed on: status, bytes, end.
    func observeOutbound(_ part: HTTPServerResponsePart, context: ChannelHandlerContext) {
        guard !passedOn.isEmpty else { return }
        switch part {
        case .head(let head):
            guard head.status.code >= 200 else { return }
            var request = passedOn[0]
            request.observed.status = Int(head.status.code)
            request.observed.answeredAt = NIODeadline.now().uptimeNanoseconds
            let decided = registry.observability?.takeDecidedRequest(connection: ObjectIdentifier(context.channel))
            let plan = decided?.plan
            request.observer = decided?.observer
            request.observed.planID = plan?.id
            request.observed.application = plan?.application
            if let deployment = request.deployment, let entrypoint = request.observed.entrypoint {
                request.observed.series = series(deployment.observation, plan: plan, entrypoint: entrypoint)
            }
            if request.observed.entrypoint == SSEEntrypoint.type, head.status.code == 200 {
                request.observed.stream = true
                request.observed.series?.activeConnections.increment()
            }
            passedOn[0] = request
        case .body(let body):
            passedOn[0].observed.bytesOut += body.readableBytes
        case .end:
            var request = passedOn.removeFirst()
            if request.observed.stream { request.observed.series?.activeConnections.decrement() }
            request.takeMessageCounts()
            finish(request.observed)
        }
    }

    /// The connection went away: the requests still under way end there; one with no answer yet counts as 499
    /// (the client closed it).
    func finishPassedOn(context: ChannelHandlerContext) {
        let requests = passedOn
        passedOn.removeAll()
        _ = registry.observability?.takeDecidedRequest(connection: ObjectIdentifier(context.channel))
        for var request in requests {
            if request.observed.status == 0 { request.observed.status = 499 }
            if request.observed.stream { request.observed.series?.activeConnections.decrement() }
            request.takeMessageCounts()
            finish(request.observed)
        }
    }
}

/// A request passed on to the async responder, with its API.
struct PassedOnRequest {
    var observed: ObservedRequest
    var deployment: Deployment?
    /// What counted the request's messages (the async path's entrypoints), once its answer has begun.
    var observer: RequestMessageObserver?

    /// The messages the request published and was sent, for its access log line.
    mutating func takeMessageCounts() {
        guard let observer else { return }
        let published = observer.publishedCount.load(ordering: .relaxed)
        let delivered = observer.deliveredCount.load(ordering: .relaxed)
        if observed.entrypoint == HTTPPostEntrypoint.type || published > 0 { observed.messagesIn = published }
        if observed.stream || observed.entrypoint == HTTPGetEntrypoint.type || delivered > 0 {
            observed.messagesOut = delivered
        }
    }
}

import NIOCore

/// `#request` as Gravitee's expressions see it: `headers`, `params` (query parameters: name → list of values),
/// `pathParams`, `path`, `pathInfo`, `contextPath`, `method`, `remoteAddress`, `localAddress`, `host`, `id`,
/// `transactionId`, `timestamp`, `uri`, `scheme`.
public struct RequestExpressionObject: ExpressionObject {
    let request: FlowRequest
    let headers: HeadersExpressionObject
    let pathParameters: [String: ExpressionValue]

    public init(_ request: FlowRequest, pathParameters: [(name: String, value: String)] = []) {
        self.request = request
        self.headers = HeadersExpressionObject(request.headers.fields)
        var parameters: [String: ExpressionValue] = [:]
        for (name, value) in pathParameters { parameters[name] = .string(value) }
        self.pathParameters = parameters
    }

    public func member(_ name: String) -> ExpressionValue {
        switch name {
        case "headers": return .object(headers)
        case "params", "parameters":
            var values: [String: [ExpressionValue]] = [:]
            for (key, value) in request.query { values[key, default: []].append(.string(value)) }
            return .map(values.mapValues(ExpressionValue.list))
        case "pathParams", "pathParameters": return .map(pathParameters)
        case "path": return .string(request.fullPath)
        case "pathInfo": return .string(request.path)
        case "contextPath": return .string(request.contextPath == "/" ? "/" : request.contextPath + "/")
        case "uri":
            let query = request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
            return .string(request.fullPath + (query.isEmpty ? "" : "?" + query))
        case "method": return .string(request.method)
        case "remoteAddress": return request.remoteAddress.map(ExpressionValue.string) ?? .null
        case "localAddress": return request.localAddress.map(ExpressionValue.string) ?? .null
        case "host": return request.host.map(ExpressionValue.string) ?? .null
        case "scheme": return .string("http")
        case "id", "transactionId": return .string(request.id)
        case "timestamp": return .int(request.timestamp)
        default: return .null
        }
    }
}

/// `#subscription`: `id`, `applicationName`, `application`, `clientId`, `plan`, `metadata`. On a key-less plan
/// (no subscription) every member is null.
public struct SubscriptionExpressionObject: ExpressionObject {
    let subscription: FlowRequest.Subscription?

    public init(_ subscription: FlowRequest.Subscription?) {
        self.subscription = subscription
    }

    public func member(_ name: String) -> ExpressionValue {
        guard let subscription else { return .null }
        return switch name {
        case "id": .string(subscription.id)
        case "applicationName": subscription.applicationName.map(ExpressionValue.string) ?? .null
        case "application": subscription.applicationID.map(ExpressionValue.string) ?? .null
        case "clientId": subscription.clientID.map(ExpressionValue.string) ?? .null
        case "plan": .string(subscription.plan)
        case "metadata": .map(subscription.metadata.mapValues(ExpressionValue.string))
        default: .null
        }
    }
}

/// `#message`: `content` (the content as UTF-8 text), `contentLength` (bytes), `id`, `headers` (as request headers
/// are), `metadata`, `attributes`, `timestamp`, `error` (always false here).
public struct MessageExpressionObject: ExpressionObject {
    let message: Message

    public init(_ message: Message) {
        self.message = message
    }

    public func member(_ name: String) -> ExpressionValue {
        switch name {
        case "content": .string(String(decoding: message.content.readableBytesView, as: UTF8.self))
        case "contentLength": .int(Int64(message.content.readableBytes))
        case "id": message.id.map(ExpressionValue.string) ?? .null
        case "headers": .object(HeadersExpressionObject(message.headers.fields))
        case "metadata": .map(message.metadata.mapValues(ExpressionValue.string))
        case "attributes": .map(message.attributes.mapValues(ExpressionValue.string))
        case "timestamp": .int(message.timestamp)
        case "error": .bool(false)
        default: .null
        }
    }

    public func bytes(of member: String) -> ByteBuffer? {
        member == "content" ? message.content : nil
    }
}

/// `#response` (response phase): `status` and `headers`.
public struct ResponseExpressionObject: ExpressionObject {
    let status: Int
    let headers: HeadersExpressionObject

    public init(status: Int, headers: MessageHeaders) {
        self.status = status
        self.headers = HeadersExpressionObject(headers.fields)
    }

    public func member(_ name: String) -> ExpressionValue {
        switch name {
        case "status": .int(Int64(status))
        case "headers": .object(headers)
        default: .null
        }
    }
}

import SluiceCore
import SluiceGateway

/// The management API's OpenAPI 3.1 document (`GET /management/openapi.json`), written from the table of
/// operations below; a test checks that table against the router's routes, both ways.
public enum OpenAPIDocument {
    /// One operation: a method on a path (OpenAPI's `{name}` for a path parameter).
    public struct Operation: Sendable {
        public var method: String
        public var path: String
        var id: String
        var summary: String
        var tag: String
        var query: [(String, JSONValue)] = []
        var body: String? = nil
        var bodyRequired = true
        var status = 200
        var answer: String? = nil
        var open = false
        /// The media type of an answer without a schema of its own.
        var mediaType = "application/json"
    }

    static let environment = "/management/v2/environments/DEFAULT"
    static let organization = "/management/v2/organizations/DEFAULT"

    static let pageQuery: [(String, JSONValue)] = [
        ("page", integer(minimum: 1, maximum: 1_000_000)), ("perPage", integer(minimum: 1, maximum: 1000)),
    ]

    /// Every operation of the management API.
    public static let operations: [Operation] = {
        let apis = environment + "/apis"
        let api = apis + "/{apiId}"
        let plans = api + "/plans"
        let plan = plans + "/{planId}"
        let subscriptions = api + "/subscriptions"
        let subscription = subscriptions + "/{subscriptionId}"
        let keys = subscription + "/api-keys"
        let applications = environment + "/applications"
        let application = applications + "/{applicationId}"
        let users = organization + "/users"
        let user = users + "/{userId}"
        var list: [Operation] = [
            Operation(
                method: "get", path: "/management/openapi.json", id: "getOpenAPI", summary: "This document",
                tag: "Documents", answer: nil, open: true),
            // APIs
            Operation(
                method: "get", path: apis, id: "listApis", summary: "List APIs", tag: "APIs",
                query: pageQuery + [("state", enumeration(["STARTED", "STOPPED"])), ("q", string())],
                answer: "ApisPage"),
            Operation(
                method: "post", path: apis, id: "createApi", summary: "Create an API from a v4 definition (STOPPED)",
                tag: "APIs", body: "ApiDefinition", status: 201, answer: "Api"),
            Operation(
                method: "post", path: apis + "/_import/definition", id: "createApiWithImportDefinition",
                summary: "Import a v4 definition, bare or as exported (`{api, plans}`), with its plans", tag: "APIs",
                body: "ApiDefinition", status: 201, answer: "Api"),
            Operation(method: "get", path: api, id: "getApi", summary: "Get an API", tag: "APIs", answer: "Api"),
            Operation(
                method: "put", path: api, id: "updateApi", summary: "Replace an API's definition (plans excepted)",
                tag: "APIs", body: "ApiDefinition", answer: "Api"),
            Operation(
                method: "put", path: api + "/_import/definition", id: "updateApiWithDefinition",
                summary:
                    "Replace an API's definition by one given bare or as exported; plans it names replace the API's (updated by id, created, or deleted when no longer named)",
                tag: "APIs", body: "ApiDefinition", answer: "Api"),
            Operation(
                method: "delete", path: api, id: "deleteApi",
                summary: "Delete a stopped API with its plans and subscriptions",
                tag: "APIs", status: 204),
            Operation(
                method: "post", path: api + "/_start", id: "startApi", summary: "Start an API", tag: "APIs",
                status: 204),
            Operation(
                method: "post", path: api + "/_stop", id: "stopApi", summary: "Stop an API", tag: "APIs", status: 204),
            Operation(
                method: "post", path: api + "/deployments", id: "createApiDeployment",
                summary: "Record a deployment of an API",
                tag: "APIs", body: "DeploymentInput", bodyRequired: false, status: 202, answer: "Api"),
            Operation(
                method: "get", path: api + "/_export/definition", id: "exportApiDefinition",
                summary: "Export an API's definition with its plans", tag: "APIs", answer: "ApiExport"),
            Operation(
                method: "get", path: api + "/asyncapi", id: "getApiAsyncApi",
                summary: "The AsyncAPI 3.0 document of a message API", tag: "Documents", answer: "Document"),
            Operation(
                method: "get", path: "/management/v2/apis/{apiId}/asyncapi", id: "getAsyncApi",
                summary: "The AsyncAPI 3.0 document of a message API", tag: "Documents", answer: "Document"),
            // Plans
            Operation(
                method: "get", path: plans, id: "listApiPlans",
                summary: "List an API's plans (the PUBLISHED ones unless `statuses` says otherwise)", tag: "Plans",
                query: pageQuery + [("statuses", string()), ("securities", string())], answer: "PlansPage"),
            Operation(
                method: "post", path: plans, id: "createApiPlan", summary: "Create a plan (STAGING)", tag: "Plans",
                body: "PlanInput", status: 201, answer: "Plan"),
            Operation(method: "get", path: plan, id: "getApiPlan", summary: "Get a plan", tag: "Plans", answer: "Plan"),
            Operation(
                method: "put", path: plan, id: "updateApiPlan", summary: "Update a plan", tag: "Plans",
                body: "PlanInput",
                answer: "Plan"),
            Operation(
                method: "delete", path: plan, id: "deleteApiPlan", summary: "Delete a plan and its subscriptions",
                tag: "Plans", status: 204),
            Operation(
                method: "post", path: plan + "/_publish", id: "publishApiPlan", summary: "Publish a plan", tag: "Plans",
                answer: "Plan"),
            Operation(
                method: "post", path: plan + "/_deprecate", id: "deprecateApiPlan", summary: "Deprecate a plan",
                tag: "Plans",
                answer: "Plan"),
            Operation(
                method: "post", path: plan + "/_close", id: "closeApiPlan",
                summary: "Close a plan and its subscriptions",
                tag: "Plans", answer: "Plan"),
            // Subscriptions
            Operation(
                method: "get", path: subscriptions, id: "getApiSubscriptions", summary: "List an API's subscriptions",
                tag: "Subscriptions",
                query: pageQuery + [("statuses", string()), ("applicationIds", string()), ("planIds", string())],
                answer: "SubscriptionsPage"),
            Operation(
                method: "post", path: subscriptions, id: "createApiSubscription",
                summary: "Subscribe an application to a plan",
                tag: "Subscriptions", body: "SubscriptionInput", status: 201, answer: "Subscription"),
            Operation(
                method: "get", path: subscription, id: "getApiSubscription", summary: "Get a subscription",
                tag: "Subscriptions", answer: "Subscription"),
            Operation(
                method: "put", path: subscription, id: "updateApiSubscription",
                summary: "Update a subscription (its webhook `consumerConfiguration`, metadata, window)",
                tag: "Subscriptions", body: "SubscriptionUpdate", answer: "Subscription"),
        ]
        for (action, summary, body) in [
            ("_accept", "Accept a pending subscription", "AcceptSubscription"),
            ("_reject", "Reject a pending subscription", "RejectSubscription"),
            ("_pause", "Pause a subscription", "SubscriptionAction"),
            ("_resume", "Resume a paused subscription", "SubscriptionAction"),
            ("_close", "Close a subscription and revoke its keys", "SubscriptionAction"),
        ] {
            list.append(
                Operation(
                    method: "post", path: subscription + "/" + action,
                    id: String(action.dropFirst()) + "ApiSubscription", summary: summary, tag: "Subscriptions",
                    body: body, bodyRequired: false, answer: "Subscription"))
        }
        list += [
            // API keys
            Operation(
                method: "get", path: keys, id: "getApiSubscriptionApiKeys", summary: "List a subscription's API keys",
                tag: "API keys", query: pageQuery + [("revoked", boolean())], answer: "ApiKeysPage"),
            Operation(
                method: "post", path: keys + "/_renew", id: "renewApiSubscriptionApiKeys",
                summary:
                    "Issue a new API key (its value is shown in this answer only); the subscription's other valid keys expire 2 hours later",
                tag: "API keys", body: "RenewInput", bodyRequired: false, answer: "ApiKey"),
            Operation(
                method: "get", path: keys + "/{apiKeyId}", id: "getApiSubscriptionApiKey", summary: "Get an API key",
                tag: "API keys", answer: "ApiKey"),
            Operation(
                method: "put", path: keys + "/{apiKeyId}", id: "updateApiSubscriptionApiKey",
                summary: "Set or clear an API key's expiry (`expireAt`)", tag: "API keys", body: "ApiKeyUpdate",
                answer: "ApiKey"),
            Operation(
                method: "post", path: keys + "/{apiKeyId}/_revoke", id: "revokeApiSubscriptionApiKey",
                summary: "Revoke an API key", tag: "API keys", answer: "ApiKey"),
            Operation(
                method: "post", path: keys + "/{apiKeyId}/_reactivate", id: "reactivateApiSubscriptionApiKey",
                summary: "Make a revoked or expired API key valid again, until its subscription ends", tag: "API keys",
                answer: "ApiKey"),
            // Applications
            Operation(
                method: "get", path: applications, id: "listApplications", summary: "List applications",
                tag: "Applications", query: pageQuery + [("query", string()), ("clientId", string())],
                answer: "ApplicationsPage"),
            Operation(
                method: "post", path: applications, id: "createApplication", summary: "Create an application",
                tag: "Applications", body: "ApplicationInput", status: 201, answer: "Application"),
            Operation(
                method: "get", path: application, id: "getApplication", summary: "Get an application",
                tag: "Applications", answer: "Application"),
            Operation(
                method: "put", path: application, id: "updateApplication", summary: "Update an application",
                tag: "Applications", body: "ApplicationInput", answer: "Application"),
            Operation(
                method: "delete", path: application, id: "deleteApplication",
                summary: "Delete an application with its subscriptions and keys", tag: "Applications", status: 204),
            Operation(
                method: "get", path: application + "/subscriptions", id: "listApplicationSubscriptions",
                summary: "List an application's subscriptions", tag: "Applications",
                query: pageQuery + [("statuses", string())], answer: "SubscriptionsPage"),
            Operation(
                method: "get", path: application + "/api-keys", id: "listApplicationApiKeys",
                summary: "List an application's API keys", tag: "Applications",
                query: pageQuery + [("revoked", boolean())], answer: "ApiKeysPage"),
            // Users and audit
            Operation(
                method: "get", path: users, id: "listUsers", summary: "List management users", tag: "Users",
                query: pageQuery, answer: "UsersPage"),
            Operation(
                method: "post", path: users, id: "createUser",
                summary: "Create a management user (its token is shown in this answer only)", tag: "Users",
                body: "UserInput", status: 201, answer: "User"),
            Operation(
                method: "get", path: user, id: "getUser", summary: "Get a management user", tag: "Users", answer: "User"
            ),
            Operation(
                method: "put", path: user, id: "updateUser", summary: "Rename a user or change their role",
                tag: "Users",
                body: "UserUpdate", answer: "User"),
            Operation(
                method: "delete", path: user, id: "deleteUser", summary: "Delete a user", tag: "Users", status: 204),
            Operation(
                method: "post", path: user + "/_renew-token", id: "renewUserToken",
                summary: "Give a user a new token (shown in this answer only)", tag: "Users", answer: "User"),
            Operation(
                method: "get", path: environment + "/audit", id: "listAudit",
                summary: "Read the audit log, newest first",
                tag: "Audit",
                query: pageQuery + [
                    (
                        "resourceType",
                        enumeration(["API", "PLAN", "APPLICATION", "SUBSCRIPTION", "API_KEY", "USER"])
                    ), ("resourceId", string()), ("user", string()),
                ], answer: "AuditPage"),
            // Status
            Operation(
                method: "get", path: "/management/v2/status", id: "getStatus",
                summary:
                    "The APIs with their entrypoints, endpoint states, open connections and cumulative counters now",
                tag: "Status", answer: "Status"),
            Operation(
                method: "get", path: "/status", id: "getStatusPage",
                summary: "The status page (HTML; it asks for the status with the token its user gives it)",
                tag: "Status", open: true, mediaType: "text/html"),
        ]
        return list
    }()

    // MARK: Schema helpers

    static func string(maxLength: Int? = nil) -> JSONValue {
        var object = JSONObject([("type", .string("string"))])
        if let maxLength { object["maxLength"] = .number(Double(maxLength)) }
        return .object(object)
    }
    static func integer(minimum: Int, maximum: Int) -> JSONValue {
        .object(
            JSONObject([
                ("type", .string("integer")), ("minimum", .number(Double(minimum))),
                ("maximum", .number(Double(maximum))),
            ]))
    }
    static func boolean() -> JSONValue { .object(JSONObject([("type", .string("boolean"))])) }
    static func enumeration(_ values: [String]) -> JSONValue {
        .object(JSONObject([("type", .string("string")), ("enum", .array(values.map(JSONValue.string)))]))
    }
    static func reference(_ name: String) -> JSONValue {
        .object(JSONObject([("$ref", .string("#/components/schemas/\(name)"))]))
    }
    static func object(
        _ properties: [(String, JSONValue)], required: [String] = [], additional: Bool = true
    ) -> JSONValue {
        var object = JSONObject([("type", .string("object")), ("properties", .object(JSONObject(properties)))])
        if !required.isEmpty { object["required"] = .array(required.map(JSONValue.string)) }
        if !additional { object["additionalProperties"] = .bool(false) }
        return .object(object)
    }
    static func array(_ items: JSONValue) -> JSONValue {
        .object(JSONObject([("type", .string("array")), ("items", items)]))
    }
    static func page(_ item: String) -> JSONValue {
        object(
            [("data", array(reference(item))), ("pagination", reference("Pagination")), ("links", reference("Links"))],
            required: ["data", "pagination", "links"])
    }
    static let dateTime: JSONValue = .object(
        JSONObject([("type", .array([.string("string"), .string("null")])), ("format", .string("date-time"))]))
    static let idReference = object([("id", string())], required: ["id"])
    static let anyObject: JSONValue = .object(JSONObject([("type", .string("object"))]))

    static var schemas: JSONObject {
        JSONObject([
            (
                "Problem",
                object(
                    [
                        ("type", string()), ("title", string()),
                        ("status", .object(JSONObject([("type", .string("integer"))]))),
                        ("detail", string()), ("instance", string()),
                        (
                            "problems",
                            array(object([("path", string()), ("message", string())], required: ["path", "message"]))
                        ),
                    ], required: ["type", "title", "status", "detail"])
            ),
            (
                "Pagination",
                object(
                    [
                        ("page", .object(JSONObject([("type", .string("integer"))]))),
                        ("perPage", .object(JSONObject([("type", .string("integer"))]))),
                        ("pageCount", .object(JSONObject([("type", .string("integer"))]))),
                        ("pageItemsCount", .object(JSONObject([("type", .string("integer"))]))),
                        ("totalCount", .object(JSONObject([("type", .string("integer"))]))),
                    ], required: ["page", "perPage", "pageCount", "pageItemsCount", "totalCount"])
            ),
            (
                "Links",
                object(
                    [
                        ("self", string()), ("first", string()), ("last", string()), ("previous", string()),
                        ("next", string()),
                    ], required: ["self"])
            ),
            (
                "ApiDefinition",
                object(
                    [
                        ("id", string(maxLength: 200)), ("name", string(maxLength: 1000)), ("apiVersion", string()),
                        ("definitionVersion", string()),
                        ("type", enumeration(["message", "proxy", "MESSAGE", "PROXY"])),
                        ("description", string()), ("listeners", array(anyObject)),
                        ("endpointGroups", array(anyObject)), ("flows", array(anyObject)), ("plans", array(anyObject)),
                        ("analytics", anyObject), ("api", anyObject),
                    ])
            ),
            (
                "Api",
                object(
                    [
                        ("id", string()), ("name", string()), ("type", string()),
                        ("definitionVersion", enumeration(["V4"])), ("state", enumeration(["STARTED", "STOPPED"])),
                        ("deploymentRevision", .object(JSONObject([("type", .string("integer"))]))),
                        ("listeners", array(anyObject)), ("endpointGroups", array(anyObject)),
                        ("createdAt", dateTime), ("updatedAt", dateTime),
                    ], required: ["id", "name", "state"])
            ),
            ("ApisPage", page("Api")),
            (
                "ApiExport",
                object(
                    [("export", anyObject), ("api", anyObject), ("plans", array(anyObject))],
                    required: ["api", "plans"])
            ),
            ("Document", anyObject),
            ("DeploymentInput", object([("deploymentLabel", string(maxLength: 200))])),
            (
                "PlanInput",
                object(
                    [
                        ("id", string(maxLength: 200)), ("name", string(maxLength: 1000)), ("description", string()),
                        (
                            "security",
                            object(
                                [
                                    (
                                        "type",
                                        enumeration([
                                            "KEY_LESS", "API_KEY", "JWT", "OAUTH2", "key-less", "api-key", "jwt",
                                            "oauth2",
                                        ])
                                    ),
                                    ("configuration", anyObject),
                                ], required: ["type"])
                        ),
                        ("mode", enumeration(["STANDARD", "PUSH"])), ("validation", enumeration(["AUTO", "MANUAL"])),
                        ("flows", array(anyObject)), ("tags", array(string())), ("selectionRule", string()),
                    ])
            ),
            (
                "Plan",
                object(
                    [
                        ("id", string()), ("apiId", string()), ("name", string()),
                        ("status", enumeration(["STAGING", "PUBLISHED", "DEPRECATED", "CLOSED"])),
                        ("security", anyObject), ("mode", string()), ("validation", string()),
                        ("createdAt", dateTime), ("updatedAt", dateTime),
                    ], required: ["id", "apiId", "name", "status"])
            ),
            ("PlansPage", page("Plan")),
            (
                "SubscriptionInput",
                object(
                    [
                        ("id", string(maxLength: 200)), ("planId", string(maxLength: 200)),
                        ("applicationId", string(maxLength: 200)), ("customApiKey", string(maxLength: 256)),
                        ("consumerConfiguration", reference("ConsumerConfiguration")), ("metadata", anyObject),
                        ("startingAt", dateTime), ("endingAt", dateTime),
                    ], required: ["planId", "applicationId"])
            ),
            (
                "SubscriptionUpdate",
                object([
                    ("consumerConfiguration", reference("ConsumerConfiguration")), ("metadata", anyObject),
                    ("startingAt", dateTime), ("endingAt", dateTime),
                ])
            ),
            (
                "ConsumerConfiguration",
                object(
                    [
                        ("entrypointId", string()), ("channel", string()),
                        (
                            "entrypointConfiguration",
                            object([("callbackUrl", string()), ("headers", array(anyObject)), ("auth", anyObject)])
                        ),
                    ], required: ["entrypointId"])
            ),
            (
                "SubscriptionAction",
                object([("reason", string(maxLength: 1000)), ("customApiKey", string(maxLength: 256))])
            ),
            (
                "AcceptSubscription",
                object([
                    ("reason", string(maxLength: 1000)), ("customApiKey", string(maxLength: 256)),
                    ("startingAt", dateTime), ("endingAt", dateTime),
                ])
            ),
            ("RejectSubscription", object([("reason", string(maxLength: 1000))])),
            (
                "Subscription",
                object(
                    [
                        ("id", string()), ("api", idReference), ("plan", idReference), ("application", idReference),
                        ("status", enumeration(["ACCEPTED", "PENDING", "PAUSED", "REJECTED", "CLOSED"])),
                        ("consumerConfiguration", anyObject), ("metadata", anyObject), ("startingAt", dateTime),
                        ("endingAt", dateTime), ("createdAt", dateTime), ("updatedAt", dateTime),
                        ("apiKeys", array(reference("ApiKey"))),
                    ], required: ["id", "api", "plan", "application", "status"])
            ),
            ("SubscriptionsPage", page("Subscription")),
            ("RenewInput", object([("customApiKey", string(maxLength: 256))])),
            ("ApiKeyUpdate", object([("expireAt", dateTime)])),
            (
                "ApiKey",
                object(
                    [
                        ("id", string()), ("key", string()), ("application", idReference),
                        ("subscriptions", array(idReference)), ("revoked", boolean()), ("expired", boolean()),
                        ("revokedAt", dateTime), ("expireAt", dateTime), ("createdAt", dateTime),
                        ("updatedAt", dateTime),
                    ], required: ["id", "application", "subscriptions", "revoked"])
            ),
            ("ApiKeysPage", page("ApiKey")),
            (
                "ApplicationInput",
                object([
                    ("id", string(maxLength: 200)), ("name", string(maxLength: 1000)), ("description", string()),
                    ("settings", object([("app", object([("client_id", string())]))])),
                ])
            ),
            (
                "Application",
                object(
                    [
                        ("id", string()), ("name", string()), ("description", string()), ("settings", anyObject),
                        ("createdAt", dateTime), ("updatedAt", dateTime),
                    ], required: ["id", "name"])
            ),
            ("ApplicationsPage", page("Application")),
            (
                "UserInput",
                object(
                    [
                        ("id", string(maxLength: 200)), ("name", string(maxLength: 200)),
                        ("role", enumeration(["ADMIN", "READ_ONLY"])), ("token", string(maxLength: 256)),
                    ], required: ["name", "role"])
            ),
            ("UserUpdate", object([("name", string(maxLength: 200)), ("role", enumeration(["ADMIN", "READ_ONLY"]))])),
            (
                "User",
                object(
                    [
                        ("id", string()), ("name", string()), ("role", enumeration(["ADMIN", "READ_ONLY"])),
                        ("token", string()), ("createdAt", dateTime), ("updatedAt", dateTime),
                    ], required: ["id", "name", "role"])
            ),
            ("UsersPage", page("User")),
            (
                "AuditEntry",
                object(
                    [
                        ("id", string()), ("createdAt", dateTime), ("user", string()), ("event", string()),
                        ("reference", object([("type", string()), ("id", string())])), ("properties", anyObject),
                    ], required: ["id", "createdAt", "user", "event", "reference"])
            ),
            ("AuditPage", page("AuditEntry")),
            ("Status", statusSchema),
            ("StatusApi", statusAPISchema),
            ("StatusCounters", statusCountersSchema),
        ])
    }

    static let nullableInteger: JSONValue = .object(
        JSONObject([("type", .array([.string("integer"), .string("null")])), ("minimum", .number(0))]))

    static var statusSchema: JSONValue {
        object(
            [
                ("timestamp", .object(JSONObject([("type", .string("string")), ("format", .string("date-time"))]))),
                ("timestampMs", .object(JSONObject([("type", .string("integer"))]))),
                (
                    "gateway",
                    object(
                        [
                            ("running", boolean()), ("node", string()), ("openStreams", nullableInteger),
                            ("detail", string()),
                        ], required: ["running"])
                ),
                ("apis", array(reference("StatusApi"))),
                ("truncated", boolean()),
            ], required: ["timestamp", "timestampMs", "gateway", "apis", "truncated"])
    }

    static var statusAPISchema: JSONValue {
        let nullableString: JSONValue = .object(JSONObject([("type", .array([.string("string"), .string("null")]))]))
        return object(
            [
                ("id", string()), ("name", string()), ("state", enumeration(["STARTED", "STOPPED"])),
                ("deployed", boolean()),
                ("entrypoints", array(object([("type", string()), ("paths", array(string()))], required: ["type"]))),
                (
                    "endpoints",
                    array(
                        object([("name", string()), ("type", string()), ("state", nullableString)], required: ["type"]))
                ),
                ("openConnections", nullableInteger),
                (
                    "counters",
                    .object(
                        JSONObject([
                            (
                                "oneOf",
                                .array([reference("StatusCounters"), .object(JSONObject([("type", .string("null"))]))])
                            )
                        ]))
                ),
            ], required: ["id", "name", "state", "deployed", "entrypoints", "endpoints"])
    }

    static var statusCountersSchema: JSONValue {
        let count: JSONValue = .object(JSONObject([("type", .string("integer")), ("minimum", .number(0))]))
        return object(StatusCounters.fields.map { ($0.name, count) })
    }

    static func problemResponse(_ description: String) -> JSONValue {
        .object(
            JSONObject([
                ("description", .string(description)),
                (
                    "content",
                    .object(
                        JSONObject([
                            ("application/problem+json", .object(JSONObject([("schema", reference("Problem"))])))
                        ]))
                ),
            ]))
    }

    static func operationValue(_ operation: Operation) -> JSONValue {
        var object = JSONObject([
            ("operationId", .string(operation.id)), ("summary", .string(operation.summary)),
            ("tags", .array([.string(operation.tag)])),
        ])
        var parameters: [JSONValue] = []
        for segment in operation.path.split(separator: "/") where segment.hasPrefix("{") {
            let name = String(segment.dropFirst().dropLast())
            parameters.append(
                .object(
                    JSONObject([
                        ("name", .string(name)), ("in", .string("path")), ("required", .bool(true)),
                        ("schema", string(maxLength: 200)),
                    ])))
        }
        for (name, schema) in operation.query {
            parameters.append(
                .object(JSONObject([("name", .string(name)), ("in", .string("query")), ("schema", schema)])))
        }
        if ["put", "post", "delete"].contains(operation.method), !operation.open {
            parameters.append(
                .object(
                    JSONObject([
                        ("name", .string("If-Match")), ("in", .string("header")),
                        ("description", .string("The version read (its ETag): a stale one gives 412")),
                        ("schema", string()),
                    ])))
        }
        if !parameters.isEmpty { object["parameters"] = .array(parameters) }
        if let body = operation.body {
            object["requestBody"] = .object(
                JSONObject([
                    ("required", .bool(operation.bodyRequired)),
                    (
                        "content",
                        .object(JSONObject([("application/json", .object(JSONObject([("schema", reference(body))])))]))
                    ),
                ]))
        }
        var responses = JSONObject()
        var success = JSONObject([("description", .string(operation.status == 204 ? "Done" : "Success"))])
        if let answer = operation.answer {
            success["content"] = .object(
                JSONObject([("application/json", .object(JSONObject([("schema", reference(answer))])))]))
        } else if operation.status != 204 {
            let schema = operation.mediaType == "application/json" ? anyObject : string()
            success["content"] = .object(
                JSONObject([(operation.mediaType, .object(JSONObject([("schema", schema)])))]))
        }
        responses[String(operation.status)] = .object(success)
        if !operation.open {
            responses["400"] = problemResponse("The request is not valid: every problem, with its JSON path")
            responses["401"] = problemResponse("No valid bearer token")
            responses["403"] = problemResponse("A read-only user tried a change")
            responses["404"] = problemResponse("No such resource")
            if operation.method != "get" {
                responses["409"] = problemResponse("Conflict with the resource's state or another resource")
                responses["412"] = problemResponse("If-Match names a stale version")
                responses["413"] = problemResponse("The body is too large")
            }
            responses["503"] = problemResponse("The management store cannot be reached")
        }
        object["responses"] = .object(responses)
        if operation.open { object["security"] = .array([]) }
        return .object(object)
    }

    /// The document.
    public static let document: JSONValue = {
        var paths = JSONObject()
        for operation in operations {
            var item = paths[operation.path]?.objectValue ?? JSONObject()
            item[operation.method] = operationValue(operation)
            paths[operation.path] = .object(item)
        }
        return .object(
            JSONObject([
                ("openapi", .string("3.1.0")),
                (
                    "info",
                    .object(
                        JSONObject([
                            ("title", .string("Sluice management API")), ("version", .string("2")),
                            (
                                "description",
                                .string(
                                    "APIs, plans, applications, subscriptions, API keys, users and the audit log, following Gravitee's v2 management API. Errors are RFC 9457 problem details; changes take the version read in If-Match."
                                )
                            ),
                        ]))
                ),
                ("servers", .array([.object(JSONObject([("url", .string("/"))]))])),
                ("security", .array([.object(JSONObject([("bearerAuth", .array([]))]))])),
                ("paths", .object(paths)),
                (
                    "components",
                    .object(
                        JSONObject([
                            ("schemas", .object(schemas)),
                            (
                                "securitySchemes",
                                .object(
                                    JSONObject([
                                        (
                                            "bearerAuth",
                                            .object(
                                                JSONObject([("type", .string("http")), ("scheme", .string("bearer"))]))
                                        )
                                    ]))
                            ),
                        ]))
                ),
            ]))
    }()
}

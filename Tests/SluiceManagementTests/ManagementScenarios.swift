import Foundation
import PostgresTestSupport
import SluiceCore
import SluiceManagement
import Testing

/// What the management API does, end to end over HTTP; each scenario runs on SQLite and on PostgreSQL.
enum ManagementScenarios {
    /// Import, read, list, update with versions, start, stop, deploy, export, delete.
    static func apis(_ node: ManagementNode) async throws {
        let created = try await node.call(.POST, "\(environment)/apis/_import/definition", body: definition("orders"))
        #expect(created.status == 201, "\(created.text)")
        #expect(created["id"] == "orders" && created["state"] == "STOPPED" && created["name"] == "orders API")
        #expect(created.etag == "\"1\"")
        #expect(created.header("Location") == "\(environment)/apis/orders")
        // The plan in the definition became a plan resource.
        let plans = try await node.call(.GET, "\(environment)/apis/orders/plans")
        #expect(plans["data.id"] == "orders-key" && plans["data.status"] == "PUBLISHED")
        #expect(plans["data.security.type"] == "API_KEY")
        // A second import of the same id conflicts.
        let again = try await node.call(.POST, "\(environment)/apis/_import/definition", body: definition("orders"))
        #expect(again.status == 409 && again.isProblem)
        // Create (POST /apis) without an id: the API gets one.
        var bare = definition("x", path: "/inventory", withPlan: false)
        bare = bare.replacingOccurrences(of: #""id":"x","#, with: "")
        let generated = try await node.call(.POST, "\(environment)/apis", body: bare)
        #expect(generated.status == 201, "\(generated.text)")
        let generatedID = generated["id"]
        #expect(!generatedID.isEmpty && generatedID != "x")

        let read = try await node.call(.GET, "\(environment)/apis/orders")
        #expect(read.status == 200 && read.etag == "\"1\"" && read["listeners"].contains("/orders"))
        #expect(read["definitionVersion"] == "V4")

        // Paging, Gravitee's pagination object, filters.
        let page = try await node.call(.GET, "\(environment)/apis?page=1&perPage=1")
        #expect(page["pagination.totalCount"] == "2" && page["pagination.pageCount"] == "2")
        #expect(page["pagination.pageItemsCount"] == "1" && page["pagination.perPage"] == "1")
        // Gravitee's links: no previous page on the first, no next on the last.
        #expect(page["links.self"] == "\(environment)/apis?page=1&perPage=1")
        #expect(page["links.first"] == "\(environment)/apis?page=1&perPage=1")
        #expect(page["links.next"] == "\(environment)/apis?page=2&perPage=1")
        #expect(page["links.last"] == "\(environment)/apis?page=2&perPage=1" && page["links.previous"] == "")
        let second = try await node.call(.GET, "\(environment)/apis?page=2&perPage=1")
        #expect(second["data.id"] != page["data.id"] && !second["data.id"].isEmpty)
        #expect(second["links.previous"] == "\(environment)/apis?page=1&perPage=1" && second["links.next"] == "")
        let whole = try await node.call(.GET, "\(environment)/apis?q=o")
        #expect(whole["links.self"] == "\(environment)/apis?q=o" && whole["links.next"] == "")
        let named = try await node.call(.GET, "\(environment)/apis?q=ORDERS")
        #expect(named["data.id"] == "orders" && named["pagination.totalCount"] == "1")
        #expect(try await node.call(.GET, "\(environment)/apis?state=STARTED")["pagination.totalCount"] == "0")

        // An update with a stale version changes nothing; with the current one it applies.
        let changed = read.text.replacingOccurrences(of: #""name":"orders API""#, with: #""name":"Orders""#)
        let stale = try await node.call(
            .PUT, "\(environment)/apis/orders", body: changed, headers: [("If-Match", "\"7\"")])
        #expect(stale.status == 412 && stale.isProblem && stale.etag == "\"1\"")
        let updated = try await node.call(
            .PUT, "\(environment)/apis/orders", body: changed, headers: [("If-Match", read.etag ?? "")])
        #expect(updated.status == 200 && updated["name"] == "Orders" && updated.etag == "\"2\"", "\(updated.text)")
        // The version read before is stale now.
        let late = try await node.call(
            .PUT, "\(environment)/apis/orders", body: changed, headers: [("If-Match", "\"1\"")])
        #expect(late.status == 412)
        // Plans are not changed through the API's definition.
        let withPlans = try await node.call(.PUT, "\(environment)/apis/orders", body: definition("orders"))
        #expect(withPlans.status == 400 && withPlans.problemPaths == ["plans"])

        // Gravitee's _start and _stop answer 204 without a body; the new version is in the ETag.
        let started = try await node.call(.POST, "\(environment)/apis/orders/_start")
        #expect(started.status == 204 && started.text.isEmpty && started.etag == "\"3\"", "\(started.text)")
        #expect(try await node.call(.GET, "\(environment)/apis/orders")["state"] == "STARTED")
        #expect(try await node.call(.POST, "\(environment)/apis/orders/_start").status == 204)
        #expect(try await node.call(.GET, "\(environment)/apis?state=STARTED")["data.id"] == "orders")
        let deployed = try await node.call(
            .POST, "\(environment)/apis/orders/deployments", body: #"{"deploymentLabel":"first"}"#)
        #expect(deployed.status == 202 && deployed["deploymentRevision"] == "1")

        // The AsyncAPI document: a channel for the listener path, an operation per entrypoint, the plan's scheme.
        let asyncAPI = try await node.call(.GET, "\(environment)/apis/orders/asyncapi")
        #expect(asyncAPI.status == 200 && asyncAPI["asyncapi"] == "3.0.0", "\(asyncAPI.text)")
        #expect(asyncAPI["channels.orders.address"] == "/orders")
        #expect(asyncAPI["operations.orders-http-post.action"] == "send")
        #expect(asyncAPI["operations.orders-http-get.action"] == "receive")
        #expect(asyncAPI["operations.orders-sse.action"] == "receive")
        #expect(asyncAPI["components.securitySchemes.apiKeyHeader.name"] == "X-Gravitee-Api-Key")
        #expect(asyncAPI["servers.http.protocol"] == "http" && asyncAPI["servers.sse.protocol"] == "sse")
        #expect(try await node.call(.GET, "/management/v2/apis/orders/asyncapi").text == asyncAPI.text)

        // Export: Gravitee's shape, which imports again (under another id) and which the gateway's loader reads.
        let exported = try await node.call(.GET, "\(environment)/apis/orders/_export/definition")
        #expect(exported.status == 200 && exported["api.id"] == "orders" && exported["plans.id"] == "orders-key")
        #expect(!exported["export.date"].isEmpty && exported["api.state"] == "")
        var export = try #require(exported.json?.objectValue)
        var api = try #require(export["api"]?.objectValue)
        api["id"] = .string("orders-copy")
        var listener = try #require(api["listeners"]?.arrayValue?.first?.objectValue)
        listener["paths"] = .array([.object(JSONObject([("path", .string("/orders-copy"))]))])
        api["listeners"] = .array([.object(listener)])
        export["api"] = .object(api)
        let reimported = try await node.call(
            .POST, "\(environment)/apis/_import/definition", body: JSONValue.object(export).jsonText())
        #expect(reimported.status == 201 && reimported["id"] == "orders-copy", "\(reimported.text)")
        var merged = api
        merged["plans"] = export["plans"]
        #expect(DefinitionLoader(catalog: .gateway).load(value: .object(merged), source: "export").isDeployable)

        // Gravitee's update from a definition: the export, changed, replaces the definition and the plans it names.
        var update = try #require(exported.json?.objectValue)
        var updatedAPI = try #require(update["api"]?.objectValue)
        updatedAPI["name"] = .string("Orders v2")
        update["api"] = .object(updatedAPI)
        var plansNow = try #require(update["plans"]?.arrayValue?.first?.objectValue)
        plansNow["name"] = .string("Key v2")
        var added = plansNow
        added["id"] = .string("orders-staging")
        added["status"] = .string("STAGING")
        update["plans"] = .array([.object(plansNow), .object(added)])
        let fromDefinition = try await node.call(
            .PUT, "\(environment)/apis/orders/_import/definition", body: JSONValue.object(update).jsonText())
        #expect(fromDefinition.status == 200 && fromDefinition["name"] == "Orders v2", "\(fromDefinition.text)")
        let plansAfter = try await node.call(.GET, "\(environment)/apis/orders/plans?statuses=PUBLISHED,STAGING")
        #expect(plansAfter["pagination.totalCount"] == "2", "\(plansAfter.text)")
        #expect(try await node.call(.GET, "\(environment)/apis/orders/plans/orders-key")["name"] == "Key v2")
        // A plan no longer named is deleted; a definition without plans leaves them as they are.
        update["plans"] = .array([.object(plansNow)])
        #expect(
            try await node.call(
                .PUT, "\(environment)/apis/orders/_import/definition", body: JSONValue.object(update).jsonText()
            ).status == 200)
        #expect(try await node.call(.GET, "\(environment)/apis/orders/plans/orders-staging").status == 404)
        update["plans"] = .array([])
        #expect(
            try await node.call(
                .PUT, "\(environment)/apis/orders/_import/definition", body: JSONValue.object(update).jsonText()
            ).status == 200)
        #expect(try await node.call(.GET, "\(environment)/apis/orders/plans/orders-key").status == 200)
        // Another API's id, or a plan of another API, changes nothing.
        updatedAPI["id"] = .string("orders-copy")
        update["api"] = .object(updatedAPI)
        let wrongID = try await node.call(
            .PUT, "\(environment)/apis/orders/_import/definition", body: JSONValue.object(update).jsonText())
        #expect(wrongID.status == 400 && wrongID.problemPaths == ["api.id"], "\(wrongID.text)")

        // A started API is not deleted; a stopped one is, with its plans.
        let refused = try await node.call(.DELETE, "\(environment)/apis/orders")
        #expect(refused.status == 409 && refused.isProblem)
        #expect(try await node.call(.POST, "\(environment)/apis/orders/_stop").status == 204)
        #expect(try await node.call(.GET, "\(environment)/apis/orders")["state"] == "STOPPED")
        #expect(try await node.call(.DELETE, "\(environment)/apis/orders").status == 204)
        let gone = try await node.call(.GET, "\(environment)/apis/orders")
        #expect(gone.status == 404 && gone.isProblem)
        #expect(try await node.call(.GET, "\(environment)/apis/orders/plans").status == 404)
    }

    /// Plans: create (STAGING), publish, deprecate, close; applications; subscriptions and their keys.
    static func access(_ node: ManagementNode) async throws {
        #expect(
            try await node.call(.POST, "\(environment)/apis", body: definition("shop", withPlan: false)).status == 201)
        let plan = try await node.call(
            .POST, "\(environment)/apis/shop/plans",
            body: #"{"name":"Gold","security":{"type":"API_KEY"},"validation":"MANUAL"}"#)
        #expect(plan.status == 201 && plan["status"] == "STAGING" && plan["security.type"] == "API_KEY", "\(plan.text)")
        let planID = plan["id"]
        let planPath = "\(environment)/apis/shop/plans/\(planID)"
        // As in Gravitee, a list of plans is of the PUBLISHED ones unless `statuses` says otherwise.
        #expect(try await node.call(.GET, "\(environment)/apis/shop/plans")["pagination.totalCount"] == "0")
        #expect(try await node.call(.GET, "\(environment)/apis/shop/plans?statuses=staging")["data.id"] == planID)
        let keyPlans = try await node.call(
            .GET, "\(environment)/apis/shop/plans?statuses=STAGING&securities=API_KEY,JWT")
        #expect(keyPlans["data.id"] == planID)
        #expect(
            try await node.call(.GET, "\(environment)/apis/shop/plans?statuses=STAGING&securities=KEY_LESS")[
                "pagination.totalCount"] == "0")
        // A staging plan takes no subscription, and cannot be deprecated.
        #expect(try await node.call(.POST, "\(planPath)/_deprecate").status == 400)
        let published = try await node.call(.POST, "\(planPath)/_publish")
        #expect(published.status == 200 && published["status"] == "PUBLISHED")
        let invalidPlan = try await node.call(
            .POST, "\(environment)/apis/shop/plans", body: #"{"name":"Bad","security":{"type":"carrier-pigeon"}}"#)
        #expect(invalidPlan.status == 400 && invalidPlan.problemPaths.contains("security.type"), "\(invalidPlan.text)")

        let application = try await node.call(
            .POST, "\(environment)/applications",
            body:
                #"{"id":"mobile","name":"Mobile","description":"the app","settings":{"app":{"client_id":"mobile-client"}}}"#
        )
        #expect(application.status == 201 && application["settings.app.client_id"] == "mobile-client")
        let renamed = try await node.call(
            .PUT, "\(environment)/applications/mobile", body: #"{"name":"Mobile app"}"#,
            headers: [("If-Match", application.etag ?? "")])
        #expect(renamed.status == 200 && renamed["name"] == "Mobile app" && renamed["description"] == "the app")
        let taken = try await node.call(
            .POST, "\(environment)/applications",
            body: #"{"name":"Other","settings":{"app":{"client_id":"mobile-client"}}}"#)
        #expect(taken.status == 409 && taken.isProblem)
        #expect(try await node.call(.GET, "\(environment)/applications?query=mobile")["data.id"] == "mobile")

        // MANUAL validation: the subscription waits; accepting it issues a key, shown once.
        let subscription = try await node.call(
            .POST, "\(environment)/apis/shop/subscriptions",
            body: #"{"planId":"\#(planID)","applicationId":"mobile","metadata":{"team":"ios"}}"#)
        #expect(subscription.status == 201 && subscription["status"] == "PENDING", "\(subscription.text)")
        let subscriptionID = subscription["id"]
        let subscriptionPath = "\(environment)/apis/shop/subscriptions/\(subscriptionID)"
        // Gravitee's AcceptSubscription: a reason and the subscription's window; its key expires when it ends.
        let accepted = try await node.call(
            .POST, "\(subscriptionPath)/_accept", body: #"{"reason":"ok","endingAt":"2099-01-01T00:00:00Z"}"#)
        #expect(accepted.status == 200 && accepted["status"] == "ACCEPTED", "\(accepted.text)")
        #expect(accepted["endingAt"].hasPrefix("2099-01-01T00:00:00") && !accepted["startingAt"].isEmpty)
        #expect(accepted["apiKeys.expireAt"].hasPrefix("2099-01-01T00:00:00"), "\(accepted.text)")
        let clearKey = accepted["apiKeys.key"]
        #expect(clearKey.count == 64)
        let keyID = accepted["apiKeys.id"]
        let stored = try await node.store.apiKey(id: keyID)
        #expect(stored.hash.constantTimeEquals(APIKeyHash(key: clearKey)))
        // Read back, the key never shows its value.
        let keys = try await node.call(.GET, "\(subscriptionPath)/api-keys")
        #expect(keys["data.id"] == keyID && keys["data.key"] == "" && !keys.text.contains(clearKey))
        #expect(try await node.call(.GET, "\(environment)/applications/mobile/api-keys")["data.id"] == keyID)
        #expect(
            try await node.call(.GET, "\(environment)/applications/mobile/subscriptions")["data.id"] == subscriptionID)

        // Renewing answers 200 with the new key; the old one expires two hours later.
        let renewed = try await node.call(
            .POST, "\(subscriptionPath)/api-keys/_renew", body: #"{"customApiKey":"my-own-key-123"}"#)
        #expect(renewed.status == 200 && renewed["key"] == "my-own-key-123", "\(renewed.text)")
        let grace = try #require(try await node.store.apiKey(id: keyID).expireAt)
        #expect(abs(grace.timeIntervalSinceNow - 7200) < 120, "\(grace)")
        #expect(try await node.call(.GET, "\(subscriptionPath)/api-keys/\(keyID)")["expired"] == "false")
        let duplicate = try await node.call(
            .POST, "\(subscriptionPath)/api-keys/_renew", body: #"{"customApiKey":"my-own-key-123"}"#)
        #expect(duplicate.status == 409 && duplicate.isProblem)
        let revoked = try await node.call(.POST, "\(subscriptionPath)/api-keys/\(keyID)/_revoke")
        #expect(revoked.status == 200 && revoked["revoked"] == "true" && !revoked["revokedAt"].isEmpty)
        #expect(try await node.call(.GET, "\(subscriptionPath)/api-keys?revoked=false")["pagination.totalCount"] == "1")
        // Reactivated, the key is valid until the subscription ends; then revoked again.
        let reactivated = try await node.call(.POST, "\(subscriptionPath)/api-keys/\(keyID)/_reactivate")
        #expect(reactivated.status == 200 && reactivated["revoked"] == "false", "\(reactivated.text)")
        #expect(reactivated["revokedAt"] == "" && reactivated["expireAt"].hasPrefix("2099-01-01T00:00:00"))
        #expect(try await node.call(.GET, "\(subscriptionPath)/api-keys?revoked=false")["pagination.totalCount"] == "2")
        #expect(try await node.call(.POST, "\(subscriptionPath)/api-keys/\(keyID)/_revoke")["revoked"] == "true")
        // Gravitee's UpdateApiKey: the expiry, set and cleared.
        let renewedPath = "\(subscriptionPath)/api-keys/\(renewed["id"])"
        let expiring = try await node.call(.PUT, renewedPath, body: #"{"expireAt":"2098-05-06T07:08:09Z"}"#)
        #expect(expiring.status == 200 && expiring["expireAt"].hasPrefix("2098-05-06T07:08:09"), "\(expiring.text)")
        #expect(try await node.store.apiKey(id: renewed["id"]).expireAt != nil)
        #expect(try await node.call(.PUT, renewedPath, body: #"{"expireAt":null}"#)["expireAt"] == "")
        // A new end of the subscription is the end of its valid keys, as in Gravitee.
        let ending = try await node.call(.PUT, subscriptionPath, body: #"{"endingAt":"2097-03-04T05:06:07Z"}"#)
        #expect(ending.status == 200 && ending["endingAt"].hasPrefix("2097-03-04T05:06:07"), "\(ending.text)")
        #expect(try await node.call(.GET, renewedPath)["expireAt"].hasPrefix("2097-03-04T05:06:07"))
        // A revoked key keeps its own.
        #expect(try await node.call(.GET, "\(subscriptionPath)/api-keys/\(keyID)")["expireAt"].hasPrefix("2099-01-01"))
        // Gravitee's list filters: several applications or plans, comma-separated.
        let filtered = try await node.call(
            .GET, "\(environment)/apis/shop/subscriptions?applicationIds=other,mobile&planIds=\(planID)")
        #expect(filtered["data.id"] == subscriptionID && filtered["pagination.totalCount"] == "1")
        #expect(
            try await node.call(.GET, "\(environment)/apis/shop/subscriptions?applicationIds=other")[
                "pagination.totalCount"] == "0")

        #expect(try await node.call(.POST, "\(subscriptionPath)/_pause")["status"] == "PAUSED")
        #expect(try await node.call(.POST, "\(subscriptionPath)/_pause").status == 400)
        #expect(try await node.call(.POST, "\(subscriptionPath)/_resume")["status"] == "ACCEPTED")
        let closed = try await node.call(.POST, "\(subscriptionPath)/_close")
        #expect(closed["status"] == "CLOSED" && !closed["endingAt"].isEmpty)
        // Closing revoked the keys that carried only this subscription.
        #expect(try await node.call(.GET, "\(subscriptionPath)/api-keys?revoked=false")["pagination.totalCount"] == "0")

        // Deprecated plans take no new subscription; closing a plan closes its subscriptions.
        let second = try await node.call(
            .POST, "\(environment)/apis/shop/subscriptions", body: #"{"planId":"\#(planID)","applicationId":"mobile"}"#)
        #expect(second.status == 201)
        #expect(try await node.call(.POST, "\(planPath)/_deprecate")["status"] == "DEPRECATED")
        let late = try await node.call(
            .POST, "\(environment)/apis/shop/subscriptions", body: #"{"planId":"\#(planID)","applicationId":"mobile"}"#)
        #expect(late.status == 400 && late.problemPaths == ["planId"])
        #expect(try await node.call(.POST, "\(planPath)/_close")["status"] == "CLOSED")
        let afterClose = try await node.call(.GET, "\(environment)/apis/shop/subscriptions/\(second["id"])")
        #expect(afterClose["status"] == "CLOSED")
        #expect(
            try await node.call(.GET, "\(environment)/apis/shop/subscriptions?statuses=CLOSED")["pagination.totalCount"]
                == "2")

        // Deleting the application takes its subscriptions and keys.
        #expect(try await node.call(.DELETE, "\(environment)/applications/mobile").status == 204)
        #expect(try await node.call(.GET, "\(subscriptionPath)").status == 404)
    }

    /// A push plan's subscriptions carry a webhook configuration, checked as the gateway checks it.
    static func webhooks(_ node: ManagementNode) async throws {
        let definition = """
            {"id":"events","name":"Events","definitionVersion":"4.0.0","type":"message",
             "listeners":[{"type":"subscription","entrypoints":[{"type":"webhook"}]}],
             "endpointGroups":[{"name":"default","type":"inmemory","endpoints":[{"name":"e","type":"inmemory",
               "configuration":{"topic":"events"}}]}],
             "plans":[{"id":"events-push","name":"Push","mode":"PUSH","validation":"AUTO","status":"PUBLISHED"}],
             "flows":[]}
            """
        let created = try await node.call(.POST, "\(environment)/apis/_import/definition", body: definition)
        #expect(created.status == 201, "\(created.text)")
        #expect(
            try await node.call(.POST, "\(environment)/applications", body: #"{"id":"hooks","name":"Hooks"}"#).status
                == 201)
        let missing = try await node.call(
            .POST, "\(environment)/apis/events/subscriptions",
            body: #"{"planId":"events-push","applicationId":"hooks"}"#)
        #expect(missing.status == 400 && missing.problemPaths == ["consumerConfiguration"])
        let bad = try await node.call(
            .POST, "\(environment)/apis/events/subscriptions",
            body:
                #"{"planId":"events-push","applicationId":"hooks","consumerConfiguration":{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"ftp://example.com/x"}}}"#
        )
        #expect(bad.status == 400 && bad.isProblem, "\(bad.text)")
        #expect(bad.problemPaths.contains("consumerConfiguration.entrypointConfiguration.callbackUrl"), "\(bad.text)")
        // Outside the callback allow-list: an address none of its blocks holds. (A name it does not list by name
        // is resolved and checked when delivering, since the list has blocks.)
        let outside = try await node.call(
            .POST, "\(environment)/apis/events/subscriptions",
            body:
                #"{"planId":"events-push","applicationId":"hooks","consumerConfiguration":{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"http://10.9.9.9/hook"}}}"#
        )
        #expect(
            outside.status == 400
                && outside.problemPaths.contains("consumerConfiguration.entrypointConfiguration.callbackUrl"))
        let good = try await node.call(
            .POST, "\(environment)/apis/events/subscriptions",
            body:
                #"{"planId":"events-push","applicationId":"hooks","consumerConfiguration":{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"http://127.0.0.1:9/hook"}}}"#
        )
        #expect(good.status == 201 && good["status"] == "ACCEPTED", "\(good.text)")
        #expect(good["consumerConfiguration.entrypointConfiguration.callbackUrl"] == "http://127.0.0.1:9/hook")
        let changed = try await node.call(
            .PUT, "\(environment)/apis/events/subscriptions/\(good["id"])",
            body:
                #"{"consumerConfiguration":{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"http://127.0.0.1:10/other"}}}"#,
            headers: [("If-Match", good.etag ?? "")])
        #expect(
            changed.status == 200
                && changed["consumerConfiguration.entrypointConfiguration.callbackUrl"].hasSuffix("/other"))

        // The AsyncAPI document describes the webhook channel.
        let document = try await node.call(.GET, "/management/v2/apis/events/asyncapi")
        #expect(document.status == 200 && document["asyncapi"] == "3.0.0" && document["channels.webhook.address"] == "")
        #expect(document["operations.webhook-webhook.action"] == "receive")
    }

    /// Tokens, roles, users and the audit log.
    static func users(_ node: ManagementNode) async throws {
        let anonymous = try await node.call(.GET, "\(environment)/apis", token: nil)
        #expect(
            anonymous.status == 401 && anonymous.isProblem
                && anonymous.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(try await node.call(.GET, "\(environment)/apis", token: "wrong-token-000000").status == 401)
        let malformed = try await node.call(
            .GET, "\(environment)/apis", token: nil, headers: [("Authorization", "Basic abc")])
        #expect(malformed.status == 401 && malformed.isProblem)

        let reader = try await node.call(
            .POST, "\(organization)/users", body: #"{"name":"auditor","role":"READ_ONLY"}"#)
        #expect(reader.status == 201 && reader["role"] == "READ_ONLY", "\(reader.text)")
        let readerToken = reader["token"]
        #expect(readerToken.count == 64)
        #expect(try await node.call(.GET, "\(organization)/users/\(reader["id"])")["token"] == "")
        #expect(try await node.call(.GET, "\(environment)/apis", token: readerToken).status == 200)
        let forbidden = try await node.call(
            .POST, "\(environment)/applications", body: #"{"name":"x"}"#, token: readerToken)
        #expect(forbidden.status == 403 && forbidden.isProblem)

        // An admin acts; the audit log names them.
        let writer = try await node.call(
            .POST, "\(organization)/users", body: #"{"name":"ops","role":"ADMIN","token":"ops-token-123456789"}"#)
        #expect(writer.status == 201)
        #expect(
            try await node.call(
                .POST, "\(environment)/applications", body: #"{"id":"a1","name":"A1"}"#, token: "ops-token-123456789"
            ).status == 201)
        let audit = try await node.call(.GET, "\(environment)/audit?resourceType=APPLICATION&resourceId=a1")
        #expect(audit["data.user"] == "ops" && audit["data.event"] == "application.created", "\(audit.text)")
        #expect(try await node.call(.GET, "\(environment)/audit?user=admin")["pagination.totalCount"] != "0")
        #expect(try await node.call(.GET, "\(environment)/audit", token: readerToken).status == 200)

        // A renewed token replaces the old one; a deleted user loses access.
        let renewed = try await node.call(.POST, "\(organization)/users/\(reader["id"])/_renew-token")
        #expect(renewed.status == 200 && renewed["token"].count == 64)
        try await eventually(within: .seconds(2), "the old token is refused") {
            try await node.call(.GET, "\(environment)/apis", token: readerToken).status == 401
        }
        #expect(try await node.call(.GET, "\(environment)/apis", token: renewed["token"]).status == 200)
        #expect(try await node.call(.DELETE, "\(organization)/users/\(reader["id"])").status == 204)
        try await eventually(within: .seconds(2), "a deleted user's token is refused") {
            try await node.call(.GET, "\(environment)/apis", token: renewed["token"]).status == 401
        }
        // The admin cannot lock themselves out.
        #expect(try await node.call(.DELETE, "\(organization)/users/admin").status == 409)
        let demote = try await node.call(.PUT, "\(organization)/users/admin", body: #"{"role":"READ_ONLY"}"#)
        #expect(demote.status == 400 && demote.problemPaths == ["role"])
        #expect(try await node.call(.GET, "\(organization)/users")["pagination.totalCount"] == "2")
    }
}

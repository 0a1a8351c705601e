/// Builds small v4 definitions for tests.
enum Definitions {
    static func api(
        id: String,
        path: String,
        host: String? = nil,
        entrypoints: String,
        endpointType: String,
        endpointConfiguration: String,
        plans: String = "[]"
    ) -> String {
        let hostField = host.map { "\"host\": \"\($0)\", " } ?? ""
        return """
            {
              "id": "\(id)", "name": "\(id)", "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "http", "paths": [{ \(hostField)"path": "\(path)" }], "entrypoints": \(entrypoints) }],
              "endpointGroups": [{ "name": "default", "type": "\(endpointType)",
                "endpoints": [{ "name": "\(id)-endpoint", "type": "\(endpointType)", "weight": 1, "inheritConfiguration": false,
                  "configuration": \(endpointConfiguration) }] }],
              "plans": \(plans),
              "flows": [], "analytics": { "enabled": false }
            }
            """
    }

    static let allEntrypoints = """
        [{ "type": "http-post", "configuration": { "requestHeadersToMessage": true } },
         { "type": "http-get", "configuration": { "messagesLimitCount": 50, "messagesLimitDurationMs": 300, "headersInPayload": true, "metadataInPayload": true } },
         { "type": "sse", "configuration": { "heartbeatIntervalInMs": 60000, "headersAsComment": true, "metadataAsComment": true } },
         { "type": "websocket" }]
        """

    static func inMemory(
        id: String = "events", path: String = "/events", topic: String? = nil, extra: String = "",
        entrypoints: String = allEntrypoints
    ) -> String {
        let topicField = "\"topic\": \"\(topic ?? id)\""
        return api(
            id: id, path: path, entrypoints: entrypoints, endpointType: "inmemory",
            endpointConfiguration: "{ \(topicField), \"autoOffsetReset\": \"earliest\"\(extra) }"
        )
    }

    static func mock(
        id: String = "mock", path: String = "/mock", interval: Int = 10, count: Int? = nil,
        content: String = "mock message", entrypoints: String = allEntrypoints
    ) -> String {
        let countField = count.map { ", \"messageCount\": \($0)" } ?? ""
        return api(
            id: id, path: path, entrypoints: entrypoints, endpointType: "mock",
            endpointConfiguration: """
                { "messageInterval": \(interval), "messageContent": "\(content)"\(countField),
                  "headers": [{ "name": "X-Mock", "value": "yes" }], "metadata": [{ "name": "kind", "value": "test" }] }
                """
        )
    }
}

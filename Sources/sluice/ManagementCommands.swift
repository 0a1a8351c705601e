import ArgumentParser
import Foundation
import SluiceCore
import SluiceManagement

/// Where the management API is and who calls it; shared by the management commands.
struct ClientOptions: ParsableArguments {
    @Option(help: "The management API (default: $SLUICE_MANAGEMENT_URL, else http://127.0.0.1:8083).")
    var server: String?

    @Option(help: "A bearer token (default: $SLUICE_MANAGEMENT_TOKEN).")
    var token: String?

    @Option(help: "json or table (default: table).")
    var output: OutputFormat = .table

    enum OutputFormat: String, ExpressibleByArgument {
        case json
        case table
    }

    var client: ManagementClient {
        let environment = ProcessInfo.processInfo.environment
        return ManagementClient(
            server: server ?? environment["SLUICE_MANAGEMENT_URL"] ?? "http://127.0.0.1:8083",
            token: token ?? environment["SLUICE_MANAGEMENT_TOKEN"])
    }

    /// Sends a request and prints the answer; a problem is printed to standard error with a non-zero exit.
    func run(
        _ method: String, _ path: String, body: JSONValue? = nil, columns: [(String, String)]
    ) async throws {
        do {
            let answer = try await client.send(method, path, body: body)
            guard let answer else { return }
            switch output {
            case .json: print(ManagementOutput.json(answer))
            case .table: print(ManagementOutput.table(answer, columns: columns))
            }
        } catch let error as ManagementClientError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Gravitee's page parameters for list commands.
struct PageOptions: ParsableArguments {
    @Option(help: "The page, from 1.") var page: Int = 1
    @Option(name: .customLong("per-page"), help: "Items per page (1…1000).") var perPage: Int = 20

    func query(_ extra: [(String, String?)] = []) -> String {
        var items = [("page", String(page)), ("perPage", String(perPage))]
        for (name, value) in extra { if let value { items.append((name, value)) } }
        return "?"
            + items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0.1)" }
            .joined(separator: "&")
    }
}

func segment(_ id: String) -> String {
    id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
}

let apiColumns = [("id", "id"), ("name", "name"), ("type", "type"), ("state", "state"), ("updated", "updatedAt")]
let applicationColumns = [("id", "id"), ("name", "name"), ("client id", "settings.app.client_id")]
let subscriptionColumns = [
    ("id", "id"), ("application", "application.id"), ("plan", "plan.id"), ("status", "status"),
    ("api key (shown once)", "apiKeys.key"),
]
let keyColumns = [("id", "id"), ("key", "key"), ("revoked", "revoked"), ("subscriptions", "subscriptions")]
let apisPath = ManagementClient.environment + "/apis"

struct APIsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apis", abstract: "Manage APIs through the management API.",
        subcommands: [List.self, Get.self, Import.self, Export.self, Start.self, Stop.self, Delete.self])

    struct List: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @OptionGroup var paging: PageOptions
        @Option(help: "STARTED or STOPPED.") var state: String?
        func run() async throws {
            try await client.run("GET", apisPath + paging.query([("state", state)]), columns: apiColumns)
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await client.run("GET", "\(apisPath)/\(segment(id))", columns: apiColumns) }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a v4 definition file (JSON or YAML) with its plans; --start starts it.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "A definition file.") var file: String
        @Flag(help: "Start the API once imported.") var start = false
        func run() async throws {
            let definition: JSONValue
            do {
                definition = try ManagementClient.readDefinition(file: file)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            if !start {
                try await client.run("POST", apisPath + "/_import/definition", body: definition, columns: apiColumns)
                return
            }
            do {
                guard
                    let created = try await client.client.send(
                        "POST", apisPath + "/_import/definition", body: definition),
                    let id = created["id"]?.stringValue
                else { throw ManagementClientError(message: "the import answered no API id") }
                try await APIsCommand.change("_start", client, id)
            } catch let error as ManagementClientError {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an API's definition with its plans (JSON).")
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws {
            var options = client
            options.output = .json
            try await options.run("GET", "\(apisPath)/\(segment(id))/_export/definition", columns: [])
        }
    }

    struct Start: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await APIsCommand.changing("_start", client, id) }
    }

    struct Stop: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws { try await APIsCommand.changing("_stop", client, id) }
    }

    /// `_start` or `_stop`, which answer 204 as in Gravitee; the API is then read to print it.
    static func change(_ action: String, _ client: ClientOptions, _ id: String) async throws {
        _ = try await client.client.send("POST", "\(apisPath)/\(segment(id))/\(action)")
        try await client.run("GET", "\(apisPath)/\(segment(id))", columns: apiColumns)
    }

    /// ``change(_:_:_:)``, a problem printed with a non-zero exit.
    static func changing(_ action: String, _ client: ClientOptions, _ id: String) async throws {
        do {
            try await change(action, client, id)
        } catch let error as ManagementClientError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await client.run("DELETE", "\(apisPath)/\(segment(id))", columns: apiColumns)
            if client.output == .table { print("deleted \(id)") }
        }
    }
}

struct ApplicationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apps", abstract: "Manage applications through the management API.",
        subcommands: [List.self, Get.self, Create.self, Delete.self])
    static let path = ManagementClient.environment + "/applications"

    struct List: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @OptionGroup var paging: PageOptions
        func run() async throws {
            try await client.run("GET", ApplicationsCommand.path + paging.query(), columns: applicationColumns)
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await client.run("GET", "\(ApplicationsCommand.path)/\(segment(id))", columns: applicationColumns)
        }
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var name: String
        @Option var id: String?
        @Option var description: String?
        @Option(name: .customLong("client-id"), help: "The client id of the application's JWT/OAuth2 tokens.")
        var clientID: String?
        func run() async throws {
            var body = JSONObject([("name", .string(name))])
            if let id { body["id"] = .string(id) }
            if let description { body["description"] = .string(description) }
            if let clientID {
                body["settings"] = .object(
                    JSONObject([("app", .object(JSONObject([("client_id", .string(clientID))])))]))
            }
            try await client.run("POST", ApplicationsCommand.path, body: .object(body), columns: applicationColumns)
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Argument var id: String
        func run() async throws {
            try await client.run("DELETE", "\(ApplicationsCommand.path)/\(segment(id))", columns: [])
            if client.output == .table { print("deleted \(id)") }
        }
    }
}

struct SubscriptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriptions", abstract: "Manage an API's subscriptions through the management API.",
        subcommands: [
            List.self, Get.self, Create.self, Accept.self, Reject.self, Pause.self, Resume.self, Close.self,
        ])

    struct List: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @OptionGroup var paging: PageOptions
        @Option var api: String
        @Option(help: "An application id, or several, comma-separated.") var application: String?
        @Option(help: "Comma-separated statuses.") var statuses: String?
        func run() async throws {
            try await client.run(
                "GET",
                "\(apisPath)/\(segment(api))/subscriptions"
                    + paging.query([("applicationIds", application), ("statuses", statuses)]),
                columns: subscriptionColumns)
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Argument var id: String
        func run() async throws {
            try await client.run(
                "GET", "\(apisPath)/\(segment(api))/subscriptions/\(segment(id))", columns: subscriptionColumns)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Subscribe an application to a plan (an accepted api-key subscription prints its key once).")
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Option var plan: String
        @Option var application: String
        @Option(name: .customLong("callback-url"), help: "A webhook subscription's callback URL (push plans).")
        var callbackURL: String?
        func run() async throws {
            var body = JSONObject([("planId", .string(plan)), ("applicationId", .string(application))])
            if let callbackURL {
                body["consumerConfiguration"] = .object(
                    JSONObject([
                        ("entrypointId", .string("webhook")),
                        ("entrypointConfiguration", .object(JSONObject([("callbackUrl", .string(callbackURL))]))),
                    ]))
            }
            try await client.run(
                "POST", "\(apisPath)/\(segment(api))/subscriptions", body: .object(body),
                columns: subscriptionColumns)
        }
    }

    struct Accept: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Argument var id: String
        func run() async throws { try await SubscriptionsCommand.change("accept", client, api, id) }
    }

    struct Reject: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Argument var id: String
        func run() async throws { try await SubscriptionsCommand.change("reject", client, api, id) }
    }

    struct Pause: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Argument var id: String
        func run() async throws { try await SubscriptionsCommand.change("pause", client, api, id) }
    }

    struct Resume: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Argument var id: String
        func run() async throws { try await SubscriptionsCommand.change("resume", client, api, id) }
    }

    struct Close: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Argument var id: String
        func run() async throws { try await SubscriptionsCommand.change("close", client, api, id) }
    }

    static func change(_ action: String, _ client: ClientOptions, _ api: String, _ id: String) async throws {
        try await client.run(
            "POST", "\(apisPath)/\(segment(api))/subscriptions/\(segment(id))/_\(action)", columns: subscriptionColumns)
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage a subscription's API keys through the management API.",
        subcommands: [List.self, Renew.self, Revoke.self])

    static func path(_ api: String, _ subscription: String) -> String {
        "\(apisPath)/\(segment(api))/subscriptions/\(segment(subscription))/api-keys"
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @OptionGroup var paging: PageOptions
        @Option var api: String
        @Option var subscription: String
        func run() async throws {
            try await client.run("GET", KeysCommand.path(api, subscription) + paging.query(), columns: keyColumns)
        }
    }

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new key; its value is printed once.")
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Option var subscription: String
        func run() async throws {
            try await client.run("POST", KeysCommand.path(api, subscription) + "/_renew", columns: keyColumns)
        }
    }

    struct Revoke: AsyncParsableCommand {
        @OptionGroup var client: ClientOptions
        @Option var api: String
        @Option var subscription: String
        @Argument var id: String
        func run() async throws {
            try await client.run(
                "POST", KeysCommand.path(api, subscription) + "/\(segment(id))/_revoke", columns: keyColumns)
        }
    }
}

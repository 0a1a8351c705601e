// sluice-flow-bench: message-filtering evaluations per second on the path the gateway runs for each subscribed
// message: a `FlowEngine` compiled from a definition whose subscribe phase holds `message-filtering`, a `FlowRun`
// started for an SSE subscription, `FlowRun.process(message, in: .subscribe)` for each message.
//
// Cases, alternated round by round so that noise lands on all of them alike:
//   jsonpath     filter {#jsonPath(#message.content, '$.type') == 'created'}     (the figure)
//   trivial      filter {#message != null}: the same flow machinery, a trivial condition (the flow engine's cost)
//   parse        JSONValue.parse of the message alone: the parse that #jsonPath runs on the content
//   foundation   Foundation's JSONSerialization on the same bytes: a parser outside the project, for scale
//
// Usage: sluice-flow-bench [--seconds S] [--rounds N] [--size BYTES] [--cases a,b,...]
// Prints one `round` line per case and round, then one `median` line per case (key=value fields).
import Foundation
import NIOCore
import SluiceCore

struct Options {
    var seconds = 3.0
    var rounds = 5
    var size = 1024
    var cases = ["jsonpath", "trivial", "parse", "foundation"]

    init(_ arguments: [String]) {
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--seconds": seconds = Double(value()) ?? seconds
            case "--rounds": rounds = Int(value()) ?? rounds
            case "--size": size = Int(value()) ?? size
            case "--cases": cases = value().split(separator: ",").map(String.init)
            case "-h", "--help":
                print(
                    "usage: sluice-flow-bench [--seconds S] [--rounds N] [--size BYTES] [--cases jsonpath,trivial,parse,foundation]"
                )
                exit(0)
            default: fail("unknown argument \(arguments[index])")
            }
            index += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sluice-flow-bench: \(message)\n".utf8))
    exit(2)
}

/// 1,024 distinct events of about `size` bytes: a nested order event, half of them of type `created`.
func makeMessages(size: Int) -> [Message] {
    (0..<1024).map { index in
        let type = index % 2 == 0 ? "created" : "updated"
        var json = """
            {"id":"evt-\(String(format: "%08d", index))","type":"\(type)","source":"/orders/eu-west",\
            "time":"2026-11-29T23:\(String(format: "%02d", index % 60)):00.123Z","specversion":"1.0",\
            "data":{"order":{"id":"ord-\(100_000 + index)","status":"\(type)","currency":"EUR",\
            "total":\(Double(index) * 3.25 + 10.5),"customer":{"id":"cus-\(index % 97)","name":"Customer \(index % 97)",\
            "email":"customer\(index % 97)@example.com","address":{"street":"\(index) Long Street","city":"Lyon",\
            "postcode":"69001","country":"FR"}},"items":[{"sku":"SKU-\(index % 13)","quantity":\(index % 5 + 1),\
            "price":12.5,"tags":["blue","large"]},{"sku":"SKU-\(index % 7)","quantity":1,"price":99.99,\
            "tags":["gift"]},{"sku":"SKU-\(index % 3)","quantity":2,"price":5.0,"tags":[]}],\
            "shipping":{"method":"express","priority":true,"eta":null}}},"meta":{"trace":"
            """
        let tail = "\"}}"
        let pad = max(0, size - json.utf8.count - tail.utf8.count)
        json += String(repeating: "abcdef0123456789", count: pad / 16 + 1).prefix(pad) + tail
        return Message(id: "\(index)", content: ByteBuffer(string: json), headers: [("X-Tenant", "acme")])
    }
}

/// A message API with one flow whose subscribe phase runs `message-filtering` with `filter`.
func flowRun(filter: String) async -> FlowRun {
    let json = """
        { "id": "bench", "name": "bench", "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "/events" }], "entrypoints": [{ "type": "sse" }] }],
          "endpointGroups": [{ "name": "g", "type": "inmemory", "endpoints": [{ "name": "e", "type": "inmemory",
            "configuration": { "topic": "events" } }] }],
          "plans": [{ "id": "open", "name": "open", "security": { "type": "key-less" }, "status": "PUBLISHED" }],
          "flows": [{ "name": "filter", "enabled": true, "selectors": [],
            "subscribe": [{ "policy": "message-filtering", "configuration": { "filter": \(JSONString.quoted(filter)) } }] }] }
        """
    guard let value = try? JSONValue.parse(json: Data(json.utf8)) else { fail("the bench definition is not JSON") }
    let read = APIDefinitionReader().read(value)
    guard let definition = read.definition else { fail("the bench definition does not read: \(read.diagnostics)") }
    var diagnostics = DiagnosticCollector()
    let engine = FlowEngine(definition, diagnostics: &diagnostics)
    guard !diagnostics.hasErrors, engine.phases.contains(.subscribe) else {
        fail("the bench flow does not compile: \(diagnostics.diagnostics)")
    }
    let request = FlowRequest(
        path: "/", contextPath: "/events", method: "GET", entrypoint: "sse", operations: [.subscribe],
        headers: [("Accept", "text/event-stream"), ("X-Tenant", "acme")], plan: "open", id: "req-1",
        timestamp: 1)
    let run = engine.start(request)
    if let error = await run.runRequest().error { fail("the request phase failed: \(error)") }
    return run
}

/// Runs `body` over the messages, round-robin, for `seconds`; returns (operations, elapsed seconds, kept).
func measure(seconds: Double, _ messages: [Message], _ body: (Message) async -> Bool) async -> (Int, Double, Int) {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start.advanced(by: .nanoseconds(Int64(seconds * 1e9)))
    var operations = 0
    var kept = 0
    var now = start
    repeat {
        for message in messages where await body(message) { kept += 1 }
        operations += messages.count
        now = clock.now
    } while now < deadline
    let elapsed = now - start
    return (operations, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, kept)
}

let options = Options(CommandLine.arguments)
let messages = makeMessages(size: options.size)
let jsonpathRun = await flowRun(filter: "{#jsonPath(#message.content, '$.type') == 'created'}")
let trivialRun = await flowRun(filter: "{#message != null}")
let sizes = messages.map(\.content.readableBytes)
print(
    "messages=\(messages.count) bytes_min=\(sizes.min()!) bytes_max=\(sizes.max()!) seconds=\(options.seconds) rounds=\(options.rounds)"
)

func body(for name: String) -> (Message) async -> Bool {
    switch name {
    case "jsonpath", "trivial":
        let run = name == "jsonpath" ? jsonpathRun : trivialRun
        return { message in
            if case .deliver = await run.process(message, in: .subscribe) { return true }
            return false
        }
    case "parse":
        return { message in
            (try? JSONValue.parse(json: Data(message.content.readableBytesView))) != nil
        }
    case "foundation":
        return { message in
            (try? JSONSerialization.jsonObject(with: Data(message.content.readableBytesView))) != nil
        }
    default: fail("unknown case \(name)")
    }
}

var rates: [String: [Double]] = [:]
for name in options.cases {  // warm-up
    let (operations, _, _) = await measure(seconds: min(0.5, options.seconds), messages, body(for: name))
    print("warmup case=\(name) operations=\(operations)")
}
for round in 1...options.rounds {
    for name in options.cases {
        let (operations, elapsed, kept) = await measure(seconds: options.seconds, messages, body(for: name))
        let rate = Double(operations) / elapsed
        rates[name, default: []].append(rate)
        print(
            "round=\(round) case=\(name) operations=\(operations) kept=\(kept) seconds=\(String(format: "%.3f", elapsed)) per_s=\(Int(rate))"
        )
    }
}
for name in options.cases {
    let sorted = rates[name, default: []].sorted()
    let median = sorted[sorted.count / 2]
    print(
        "median case=\(name) per_s=\(Int(median)) ns_per_op=\(String(format: "%.0f", 1e9 / median)) min=\(Int(sorted.first!)) max=\(Int(sorted.last!))"
    )
}

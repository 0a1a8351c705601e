import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceCore
import SluiceEndpoints
import Synchronization
import Testing

@testable import SluiceGateway

/// Which way the gateway forwards an h2c endpoint's requests: from the event loop (no compression), or on the
/// async path (`useCompression`, as the default configuration has it), both over the endpoint's h2c connections.
enum H2CRoute: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case eventLoop
    case asyncPath

    var testDescription: String { rawValue }
}

/// `http-proxy` endpoints with `version: HTTP_2` on `http://` targets (h2c), end to end: a gateway in this process,
/// clients over real sockets, and real third-party HTTP/2 servers as backends: nginx (h2c with prior knowledge on
/// a `listen … http2` port; a plain HTTP/1.1 port for an upgrade it refuses) and Hypercorn (prior knowledge and
/// `Upgrade: h2c`), each of which says in its answer which protocol it was spoken to in.
@Suite("http-proxy h2c", .serialized)
struct H2CProxyTests {
    static func api(
        _ target: String, upgrade: Bool, via: H2CRoute, id: String = "h2c", path: String = "/h2c",
        http extra: String = "", headers: String = "[]", failover: String = "null",
        targets: [(name: String, target: String, weight: Int, secondary: Bool)]? = nil
    ) -> String {
        let http = """
            { "version": "HTTP_2", "clearTextUpgrade": \(upgrade), "useCompression": \(via == .asyncPath),
              "connectTimeout": 2000, "readTimeout": 5000\(extra) }
            """
        return HTTPProxyTests.api(
            id: id, path: path, targets: targets ?? [("only", target, 1, false)], http: http, headers: headers,
            failover: failover)
    }

    /// The h2c connections of the API's first endpoint.
    static func pool(_ gateway: TestGateway, id: String = "h2c") -> H2CConnectionPool? {
        gateway.gateway.registry.deployment(id: id)?.httpProxy?.group.primaries.first?.endpoint.h2c
    }

    /// The request went the way `via` says, over the h2c connections.
    static func expectRoute(_ gateway: TestGateway, _ via: H2CRoute, id: String = "h2c") {
        let forwarded = gateway.gateway.registry.deployment(id: id)?.proxyEventLoopExchanges
        #expect(via == .eventLoop ? (forwarded ?? 0) > 0 : forwarded == nil, "\(String(describing: forwarded))")
        #expect((pool(gateway, id: id)?.exchangeCount ?? 0) > 0)
    }

    static func echo(_ response: CollectedResponse) -> JSONValue {
        response.json ?? .null
    }

    // MARK: nginx, prior knowledge

    @Test(
        "nginx, prior knowledge: method, path, query, headers reach it over HTTP/2; :authority is the target's",
        .enabled(if: NginxServer.shouldRun), arguments: H2CRoute.allCases)
    func nginxForwards(via: H2CRoute) async throws {
        let nginx = try NginxServer()
        defer { nginx.stop() }
        let definition = Self.api(
            "\(nginx.h2cURL)/echo?fixed=1", upgrade: false, via: via,
            headers: #"[{ "name": "X-Configured", "value": "from-endpoint" }]"#)
        try await withGateway(["h2c.json": definition]) { gateway in
            let response = try await httpCall(
                .GET, "\(gateway.baseURL)/h2c/a%20b?x=1",
                headers: [
                    ("X-Custom", "kept"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "dropped"),
                    ("TE", "trailers"), ("Keep-Alive", "timeout=5"), ("X-Forwarded-For", "10.0.0.1"),
                    ("X-Configured", "client"),
                ])
            #expect(response.status == 200, "\(response.body)")
            #expect(response.body == "echo")
            #expect(response.header("X-Protocol") == "HTTP/2.0")
            #expect(response.header("X-Method") == "GET")
            #expect(response.header("X-Uri") == "/echo/a%20b?x=1&fixed=1")
            #expect(response.header("X-Host") == "127.0.0.1:\(nginx.h2cPort)")
            #expect(response.header("X-Custom") == "kept")
            #expect(response.header("X-Configured") == "from-endpoint")
            #expect(response.header("X-Forwarded-For-Seen") == "10.0.0.1, 127.0.0.1")
            for name in ["X-Secret", "X-Te", "X-Keep-Alive", "X-Upgrade"] {
                #expect(response.header(name) == nil, "\(name) reached the backend")
            }
            Self.expectRoute(gateway, via)

            let delete = try await httpCall(.DELETE, "\(gateway.baseURL)/h2c/gone")
            #expect(delete.status == 200)
            #expect(delete.header("X-Method") == "DELETE")
            #expect(delete.header("X-Protocol") == "HTTP/2.0")
        }
    }

    @Test(
        "nginx, prior knowledge: an 8 MiB body goes up streamed (chunked from the client) and comes back whole",
        .enabled(if: NginxServer.shouldRun), arguments: H2CRoute.allCases)
    func nginxLargeBodies(via: H2CRoute) async throws {
        let nginx = try NginxServer()
        defer { nginx.stop() }
        let payload = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try await withGateway(["h2c.json": Self.api(nginx.h2cURL, upgrade: false, via: via)]) { gateway in
            let put = try await binaryCall(.PUT, "\(gateway.baseURL)/h2c/files/big.bin", body: payload, chunked: true)
            #expect(put.status == 201, "\(String(buffer: put.body))")
            #expect(put.headers.first(name: "X-Protocol") == "HTTP/2.0")
            let stored = try Data(contentsOf: nginx.directory.appendingPathComponent("root/files/big.bin"))
            #expect(stored.count == payload.count)
            #expect(stored == Data(payload))

            let get = try await binaryCall(.GET, "\(gateway.baseURL)/h2c/files/big.bin")
            #expect(get.status == 200)
            #expect(get.headers.first(name: "X-Protocol") == "HTTP/2.0")
            #expect(get.body.readableBytes == payload.count)
            #expect(Array(get.body.readableBytesView) == payload)
            Self.expectRoute(gateway, via)
        }
    }

    @Test(
        "a client that stops reading for a while: the stream's reads pause and resume, the whole 32 MiB arrive",
        .enabled(if: NginxServer.shouldRun), arguments: H2CRoute.allCases)
    func slowClient(via: H2CRoute) async throws {
        let nginx = try NginxServer()
        defer { nginx.stop() }
        let size = 32 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_246_822_519 >> 11) }
        try Data(payload).write(to: nginx.directory.appendingPathComponent("root/files/large.bin"))
        try await withGateway(["h2c.json": Self.api(nginx.h2cURL, upgrade: false, via: via)]) { gateway in
            let request = "GET /h2c/files/large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            let received = try await SlowReader.fetch(
                port: gateway.port, request: Array(request.utf8), pause: .milliseconds(1_500))
            guard let headerEnd = received.firstRange(of: Array("\r\n\r\n".utf8)) else {
                Issue.record("no response head in \(received.count) bytes")
                return
            }
            let head = String(decoding: received[..<headerEnd.lowerBound], as: UTF8.self)
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
            #expect(head.lowercased().contains("x-protocol: http/2.0"), "\(head)")
            let body = received[headerEnd.upperBound...]
            #expect(body.count == size)
            #expect(body.elementsEqual(payload))
        }
    }

    @Test(
        "nginx GOAWAY after keepalive_requests: the next requests go on new connections, none fails",
        .enabled(if: NginxServer.shouldRun), arguments: H2CRoute.allCases)
    func nginxGoAway(via: H2CRoute) async throws {
        let nginx = try NginxServer(keepaliveRequests: 3)
        defer { nginx.stop() }
        try await withGateway(["h2c.json": Self.api(nginx.h2cURL, upgrade: false, via: via)]) { gateway in
            var connections = Set<String>()
            for index in 0..<12 {
                let response = try await httpCall(.GET, "\(gateway.baseURL)/h2c/n\(index)")
                #expect(response.status == 200, "request \(index): \(response.body)")
                #expect(response.header("X-Protocol") == "HTTP/2.0")
                if let connection = response.header("X-Connection") { connections.insert(connection) }
            }
            // 3 requests per connection at most (GOAWAY after the third).
            #expect(connections.count >= 4, "\(connections)")
            #expect((Self.pool(gateway)?.connectionsOpened ?? 0) >= 4)
        }
    }

    @Test(
        "a backend that is down gives 502 GATEWAY_CLIENT_CONNECTION_ERROR, with prior knowledge and with upgrade",
        arguments: H2CRoute.allCases, [false, true])
    func backendDown(via: H2CRoute, upgrade: Bool) async throws {
        let port = try freeLoopbackPort()
        try await withGateway(["h2c.json": Self.api("http://127.0.0.1:\(port)", upgrade: upgrade, via: via)]) {
            gateway in
            for _ in 0..<2 {
                let response = try await httpCall(.GET, "\(gateway.baseURL)/h2c/x")
                #expect(response.status == 502, "\(response.body)")
                #expect(response.json?["key"]?.stringValue == "GATEWAY_CLIENT_CONNECTION_ERROR", "\(response.body)")
            }
        }
    }

    // MARK: Hypercorn, prior knowledge and upgrade

    @Test(
        "Hypercorn: h2c by upgrade (the first request carries it) and with prior knowledge; method, path, query, body",
        .enabled(if: HypercornBackend.shouldRun), arguments: H2CRoute.allCases, [true, false])
    func hypercornEcho(via: H2CRoute, upgrade: Bool) async throws {
        let (server, url) = try HypercornBackend.start()
        defer { server.stop() }
        try await withGateway(["h2c.json": Self.api("\(url)/base?fixed=1", upgrade: upgrade, via: via)]) { gateway in
            let first = try await httpCall(.GET, "\(gateway.baseURL)/h2c/a%20b?x=1", headers: [("X-Custom", "c")])
            #expect(first.status == 200, "\(first.body)")
            var echo = Self.echo(first)
            #expect(echo["http_version"]?.stringValue == "2", "\(first.body)")
            #expect(first.header("X-Http-Version") == "2")
            #expect(echo["method"]?.stringValue == "GET")
            #expect(echo["raw_path"]?.stringValue == "/base/a%20b")
            #expect(echo["query"]?.stringValue == "x=1&fixed=1")
            let headers =
                echo["headers"]?.arrayValue?.compactMap { pair -> (String, String)? in
                    guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue,
                        let value = items[1].stringValue
                    else { return nil }
                    return (name, value)
                } ?? []
            #expect(headers.contains { $0 == ("x-custom", "c") })

            let post = try await httpCall(
                .POST, "\(gateway.baseURL)/h2c/submit", headers: [("Content-Type", "text/plain")], body: "hello h2c")
            #expect(post.status == 200, "\(post.body)")
            echo = Self.echo(post)
            #expect(echo["http_version"]?.stringValue == "2", "\(post.body)")
            #expect(echo["method"]?.stringValue == "POST")
            #expect(echo["body"]?.stringValue == "hello h2c")
            Self.expectRoute(gateway, via)
            if upgrade { #expect((Self.pool(gateway)?.upgradesAccepted ?? 0) >= 1) }
        }
    }

    @Test(
        "Hypercorn, upgrade: a first request with a body upgrades the connection by an OPTIONS * probe",
        .enabled(if: HypercornBackend.shouldRun), arguments: H2CRoute.allCases)
    func hypercornProbe(via: H2CRoute) async throws {
        let (server, url) = try HypercornBackend.start()
        defer { server.stop() }
        try await withGateway(["h2c.json": Self.api(url, upgrade: true, via: via)]) { gateway in
            let post = try await httpCall(.POST, "\(gateway.baseURL)/h2c/first", body: "body first")
            #expect(post.status == 200, "\(post.body)")
            let echo = Self.echo(post)
            #expect(echo["http_version"]?.stringValue == "2", "\(post.body)")
            #expect(echo["body"]?.stringValue == "body first")
            #expect((Self.pool(gateway)?.upgradesAccepted ?? 0) == 1)
        }
    }

    @Test(
        "Hypercorn with SETTINGS_MAX_CONCURRENT_STREAMS 2: many concurrent requests share the connection, never more than 2 at once",
        .enabled(if: HypercornBackend.shouldRun), arguments: H2CRoute.allCases, [false, true])
    func concurrentStreams(via: H2CRoute, upgrade: Bool) async throws {
        let (server, url) = try HypercornBackend.start(maxConcurrentStreams: 2)
        defer { server.stop() }
        let definition = Self.api(url, upgrade: upgrade, via: via, http: #", "maxConcurrentConnections": 1"#)
        try await withGateway(["h2c.json": definition]) { gateway in
            let responses = try await withThrowingTaskGroup(of: CollectedResponse.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await httpCall(.GET, "\(gateway.baseURL)/h2c/slow?ms=300") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(responses.allSatisfy { $0.status == 200 }, "\(responses.map(\.status))")
            #expect(responses.allSatisfy { $0.header("X-Http-Version") == "2" })
            let peaks = responses.compactMap { $0.json?["peak"]?.intValue }
            #expect(peaks.count == 16)
            // Never past the server's limit on one connection, and several streams at once on it.
            #expect(peaks.allSatisfy { $0 <= 2 }, "\(peaks)")
            #expect(peaks.contains(2), "\(peaks)")
            // One connection per event loop at most (maxConcurrentConnections: 1).
            let connections = Set(responses.compactMap { $0.header("X-Connection") })
            let loops = System.coreCount
            #expect(connections.count <= loops, "\(connections)")
            #expect((Self.pool(gateway)?.connectionsOpened ?? 0) <= loops)
            #expect((Self.pool(gateway)?.streamsOpened ?? 0) >= 16)
        }
    }

    @Test(
        "Hypercorn: a backend slower than readTimeout gives 504 REQUEST_TIMEOUT",
        .enabled(if: HypercornBackend.shouldRun), arguments: H2CRoute.allCases, [false, true])
    func slowBackend(via: H2CRoute, upgrade: Bool) async throws {
        let (server, url) = try HypercornBackend.start()
        defer { server.stop() }
        let definition = Self.api(url, upgrade: upgrade, via: via, http: #", "readTimeout": 1000"#)
        try await withGateway(["h2c.json": definition]) { gateway in
            // A first quick request, so that the slow one goes on an established (upgraded) connection too.
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/h2c/quick").status == 200)
            let started = ContinuousClock.now
            let slow = try await httpCall(.GET, "\(gateway.baseURL)/h2c/slow?ms=20000")
            #expect(slow.status == 504, "\(slow.body)")
            #expect(slow.json?["key"]?.stringValue == "REQUEST_TIMEOUT", "\(slow.body)")
            #expect(ContinuousClock.now - started < .seconds(10))
            // The connection serves on.
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/h2c/after").status == 200)
        }
    }

    @Test(
        "Hypercorn, upgrade: an 8 MiB body streamed up and an 8 MiB body streamed down over the upgraded connection",
        .enabled(if: HypercornBackend.shouldRun), arguments: H2CRoute.allCases)
    func hypercornLargeBodies(via: H2CRoute) async throws {
        let (server, url) = try HypercornBackend.start()
        defer { server.stop() }
        let size = 8 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 40_503 >> 7) }
        try await withGateway(["h2c.json": Self.api(url, upgrade: true, via: via)]) { gateway in
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/h2c/warm").header("X-Http-Version") == "2")
            let upload = try await binaryCall(.POST, "\(gateway.baseURL)/h2c/upload", body: payload, chunked: true)
            #expect(upload.status == 200)
            let echo = try JSONValue.parse(json: Data(String(buffer: upload.body).utf8))
            #expect(echo["http_version"]?.stringValue == "2")
            #expect(echo["body_length"]?.intValue == size)
            let digest = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
            #expect(echo["body_sha256"]?.stringValue == digest)

            let download = try await binaryCall(.GET, "\(gateway.baseURL)/h2c/big?bytes=\(size)")
            #expect(download.status == 200)
            #expect(download.headers.first(name: "X-Http-Version") == "2")
            #expect(download.body.readableBytes == size)
            #expect(download.body.readableBytesView.enumerated().allSatisfy { $0.element == UInt8($0.offset % 251) })
        }
    }

    @Test(
        "an HTTP/1.1-only backend (nginx without http2) refuses the upgrade: served over HTTP/1.1, bodies too",
        .enabled(if: NginxServer.shouldRun), arguments: H2CRoute.allCases)
    func upgradeRefused(via: H2CRoute) async throws {
        let nginx = try NginxServer()
        defer { nginx.stop() }
        try await withGateway(["h2c.json": Self.api(nginx.http1URL, upgrade: true, via: via)]) { gateway in
            let first = try await httpCall(.GET, "\(gateway.baseURL)/h2c/first")
            #expect(first.status == 200, "\(first.body)")
            #expect(first.header("X-Protocol") == "HTTP/1.1")
            // The upgrade was asked for.
            #expect(first.header("X-Upgrade") == "h2c")
            let second = try await httpCall(.GET, "\(gateway.baseURL)/h2c/second")
            #expect(second.status == 200)
            #expect(second.header("X-Protocol") == "HTTP/1.1")
            let payload = [UInt8](repeating: 0x61, count: 300_000)
            let put = try await binaryCall(.PUT, "\(gateway.baseURL)/h2c/files/h1.bin", body: payload)
            #expect(put.status == 201)
            #expect(put.headers.first(name: "X-Protocol") == "HTTP/1.1")
            let stored = try Data(contentsOf: nginx.directory.appendingPathComponent("root/files/h1.bin"))
            #expect(stored == Data(payload))
            #expect(Self.pool(gateway)?.upgradesAccepted == 0)
        }
    }

    // MARK: What only the async path does

    @Test(
        "failover over h2c endpoints: a down primary is retried on the h2c one (async path)",
        .enabled(if: NginxServer.shouldRun))
    func failover() async throws {
        let nginx = try NginxServer()
        defer { nginx.stop() }
        let down = try freeLoopbackPort()
        let definition = Self.api(
            "", upgrade: false, via: .eventLoop,
            failover: #"{ "enabled": true, "maxRetries": 2, "slowCallDuration": 3000, "perSubscription": false }"#,
            targets: [("down", "http://127.0.0.1:\(down)", 1, false), ("up", nginx.h2cURL, 1, false)])
        try await withGateway(["h2c.json": definition]) { gateway in
            for index in 0..<4 {
                let response = try await httpCall(.GET, "\(gateway.baseURL)/h2c/f\(index)")
                #expect(response.status == 200, "\(response.body)")
                #expect(response.header("X-Protocol") == "HTTP/2.0")
            }
            #expect(gateway.gateway.registry.deployment(id: "h2c")?.proxyEventLoopExchanges == nil)
        }
    }

    @Test(
        "useCompression over h2c: the backend's gzip body is decompressed, as the HTTP client does",
        .enabled(if: HypercornBackend.shouldRun), arguments: [false, true])
    func decompression(upgrade: Bool) async throws {
        let (server, url) = try HypercornBackend.start()
        defer { server.stop() }
        try await withGateway(["h2c.json": Self.api(url, upgrade: upgrade, via: .asyncPath)]) { gateway in
            let response = try await httpCall(.GET, "\(gateway.baseURL)/h2c/gzip")
            #expect(response.status == 200)
            #expect(response.header("X-Http-Version") == "2")
            #expect(response.header("Content-Encoding") == nil)
            #expect(response.body == String(repeating: "compressed over h2c ", count: 200))
        }
    }

    @Test(
        "a backend lost in the middle of an exchange: 502; the next request gets a new connection",
        .enabled(if: HypercornBackend.shouldRun), arguments: H2CRoute.allCases)
    func connectionLost(via: H2CRoute) async throws {
        let (server, url) = try HypercornBackend.start()
        let port = Int(url.split(separator: ":").last!)!
        try await withGateway(["h2c.json": Self.api(url, upgrade: false, via: via)]) { gateway in
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/h2c/before").status == 200)
            let slow = Task { try await httpCall(.GET, "\(gateway.baseURL)/h2c/slow?ms=5000") }
            try await Task.sleep(for: .milliseconds(500))
            server.stop()
            let lost = try await slow.value
            #expect(lost.status == 502, "\(lost.body)")
            #expect(lost.json?["key"]?.stringValue == "GATEWAY_CLIENT_CONNECTION_ERROR", "\(lost.body)")
            // Nothing listens any more: a new connection is tried, and refused.
            let after = try await httpCall(.GET, "\(gateway.baseURL)/h2c/after")
            #expect(after.status == 502)
            _ = port
        }
    }
}

extension JSONValue {
    fileprivate var intValue: Int? {
        if case .number(let number) = self { return Int(number) }
        return nil
    }
}

/// A client that sends a request, then does not read for `pause`, then reads until the server closes.
enum SlowReader {
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        let done: EventLoopPromise<Void>

        init(done: EventLoopPromise<Void>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLock { $0 += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.succeed()
        }
    }

    static func fetch(port: Int, request: [UInt8], pause: TimeAmount) async throws -> [UInt8] {
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.any().makePromise(of: Void.self)
        let collector = Collector(done: done)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in channel.pipeline.addHandler(collector) }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: request)).get()
        try await Task.sleep(for: .nanoseconds(pause.nanoseconds))
        try await channel.setOption(.autoRead, value: true).get()
        channel.read()
        try await done.futureResult.get()
        return collector.received.withLock { $0 }
    }
}

/// A request with a binary body (streamed in 64 KiB parts without a length when `chunked`), body collected.
func binaryCall(
    _ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, chunked: Bool = false
) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let body {
        if chunked {
            let parts = stride(from: 0, to: body.count, by: 65_536).map {
                ByteBuffer(bytes: body[$0..<min($0 + 65_536, body.count)])
            }
            request.body = .stream(BufferSequence(parts: parts), length: .unknown)
        } else {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
    }
    let response = try await testHTTPClient.execute(request, timeout: .seconds(60))
    let collected = try await response.body.collect(upTo: 64 << 20)
    return (Int(response.status.code), response.headers, collected)
}

/// Buffers as an async sequence.
struct BufferSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let parts: [ByteBuffer]

    struct AsyncIterator: AsyncIteratorProtocol {
        var parts: IndexingIterator<[ByteBuffer]>
        mutating func next() async -> ByteBuffer? { parts.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(parts: parts.makeIterator()) }
}

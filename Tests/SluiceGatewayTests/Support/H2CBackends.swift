import Foundation
import NIOCore
import NIOPosix

/// nginx started for a test (`master_process off`, in a temporary prefix), as a real third-party HTTP/2 server:
/// `h2cPort` is a `listen … http2` port without TLS (h2c with prior knowledge only, as nginx serves it),
/// `http1Port` a plain HTTP/1.1 one (nginx ignores `Upgrade: h2c` there). Both serve the same locations:
/// - `/files/…`: WebDAV `PUT` (stores the body) and `GET` (serves it back);
/// - `/status/418`: a 418;
/// - anything else: 200 `echo`, with what nginx saw in response headers: `X-Protocol` (`$server_protocol`),
///   `X-Connection` (nginx's connection serial number), `X-Method`, `X-Uri`, `X-Host`, and the request headers
///   `X-Custom`, `X-Configured`, `X-Secret`, `TE`, `Keep-Alive`, `Upgrade`, `X-Forwarded-For` (nginx leaves out a
///   header whose value is empty, so a header the backend did not get is absent).
final class NginxServer: @unchecked Sendable {
    let process: Process
    let directory: URL
    let h2cPort: Int
    let http1Port: Int

    static var binary: String? {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx", "/usr/local/nginx/sbin/nginx"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Why nginx cannot run here, or nil. On CI it must: a missing nginx is then a failure, not a skip.
    static let problem: String? =
        binary == nil ? "nginx is not installed: scripts/test.sh installs it (apt package nginx)" : nil
    static var shouldRun: Bool { BearerOracles.isCI || problem == nil }

    /// Starts nginx with `http2_max_concurrent_streams` and `keepalive_requests` (after which nginx sends GOAWAY).
    init(maxConcurrentStreams: Int = 128, keepaliveRequests: Int = 1_000, h2cPort: Int? = nil) throws {
        guard let binary = Self.binary else { throw OracleError(Self.problem ?? "no nginx") }
        self.h2cPort = try h2cPort ?? freeLoopbackPort()
        self.http1Port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-nginx-\(UUID().uuidString)")
        for folder in ["root/files", "logs"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let prefix = directory.path
        let echoHeaders = """
                add_header X-Protocol $server_protocol always;
                add_header X-Connection $connection always;
                add_header X-Method $request_method always;
            """
        let locations = """
            root \(prefix)/root;
            location /files/ {
                dav_methods PUT DELETE;
                create_full_put_path on;
            \(echoHeaders)
            }
            location /status/ {
            \(echoHeaders)
                return 418 "teapot";
            }
            location / {
            \(echoHeaders)
                add_header X-Uri $request_uri always;
                add_header X-Host $http_host always;
                add_header X-Custom $http_x_custom always;
                add_header X-Configured $http_x_configured always;
                add_header X-Secret $http_x_secret always;
                add_header X-Te $http_te always;
                add_header X-Keep-Alive $http_keep_alive always;
                add_header X-Upgrade $http_upgrade always;
                add_header X-Forwarded-For-Seen $http_x_forwarded_for always;
                return 200 "echo";
            }
            """
        let configuration = """
            master_process off;
            daemon off;
            error_log \(prefix)/logs/error.log warn;
            pid \(prefix)/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log off;
                default_type text/plain;
                client_body_temp_path \(prefix)/body;
                proxy_temp_path \(prefix)/proxy;
                fastcgi_temp_path \(prefix)/fastcgi;
                uwsgi_temp_path \(prefix)/uwsgi;
                scgi_temp_path \(prefix)/scgi;
                client_max_body_size 64m;
                http2_max_concurrent_streams \(maxConcurrentStreams);
                keepalive_requests \(keepaliveRequests);
                server {
                    listen 127.0.0.1:\(self.h2cPort) http2;
            \(locations)
                }
                server {
                    listen 127.0.0.1:\(http1Port);
            \(locations)
                }
            }
            """
        let file = directory.appendingPathComponent("nginx.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-p", prefix, "-c", file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        guard waitForListener(port: self.h2cPort), waitForListener(port: http1Port) else {
            let log =
                (try? String(contentsOf: directory.appendingPathComponent("logs/error.log"), encoding: .utf8)) ?? ""
            stop()
            throw OracleError("nginx did not start: \(log.suffix(1000))")
        }
    }

    var h2cURL: String { "http://127.0.0.1:\(h2cPort)" }
    var http1URL: String { "http://127.0.0.1:\(http1Port)" }

    /// SIGKILL: a child of the test runner may inherit a signal mask that keeps SIGTERM pending forever.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

/// Hypercorn, a third-party ASGI server that speaks h2c with prior knowledge and by `Upgrade: h2c`, serving the
/// echo application of tests/interop/h2c_backend.py in the project's Python (`.build-venv`).
enum HypercornBackend {
    static let script = BearerOracles.packageRoot().appendingPathComponent("tests/interop/h2c_backend.py").path

    /// Why it cannot run here, or nil. On CI it must.
    static let problem: String? = {
        do {
            let output = try BearerOracles.run(["-c", "import hypercorn, h2; print('ok')"])
            return String(decoding: output, as: UTF8.self).hasPrefix("ok") ? nil : "hypercorn is missing"
        } catch {
            return "hypercorn is not importable (\(error)): run scripts/test.sh"
        }
    }()
    static var shouldRun: Bool { BearerOracles.isCI || problem == nil }

    static func start(maxConcurrentStreams: Int = 100) throws -> (server: OracleServer, url: String) {
        let server = try OracleServer([script, "--max-concurrent-streams", "\(maxConcurrentStreams)"])
        guard let port = Int(server.firstLine) else {
            server.stop()
            throw OracleError("h2c_backend.py printed \(server.firstLine), not a port")
        }
        guard waitForListener(port: port) else {
            server.stop()
            throw OracleError("hypercorn did not listen on \(port)")
        }
        return (server, "http://127.0.0.1:\(port)")
    }
}

/// A loopback port nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress?.port ?? 0
    try channel.close().wait()
    return port
}

/// Waits (up to 10 s) until something accepts connections on `port`.
func waitForListener(port: Int) -> Bool {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if let channel = try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).wait()
        {
            try? channel.close().wait()
            return true
        }
        usleep(50_000)
    }
    return false
}

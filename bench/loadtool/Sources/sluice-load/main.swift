#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = """
    sluice-load: a bounded, loopback-only load generator for Sluice's benchmarks.

      sluice-load sse      --url http://127.0.0.1:P/path --connections N [--duration S=20] [--ramp CONN_PER_S=2000] [--threads T=1]
      sluice-load ws       --url http://127.0.0.1:P/path --connections N [--duration S=20] [--ramp CONN_PER_S=2000] [--threads T=1]
      sluice-load idle-sse --url http://127.0.0.1:P/path --connections N [--hold S=30]     [--ramp CONN_PER_S=2000] [--threads T=1]
      sluice-load publish  --url http://127.0.0.1:P/path (--rate MSG_PER_S | --max) [--size BYTES=1024] [--duration S=15] [--connections C=4] [--threads T=1]
      sluice-load receive  --port P --stop-file PATH [--threads T=1] [--status 200]

    Subscribers print `ESTABLISHED n of N ...` once every connection is up (or failed, or the establish timeout
    passed); the duration or hold starts then. Each command ends with one `RESULT {json}` line.
    Message content starts with `t=<unix nanos>;`; subscribers measure delivery latency from it.
    `receive` is a webhook receiver on 127.0.0.1:P: it answers every request with --status, measures each POST whose
    body starts with `t=` from that send time, and ends (printing its RESULT) once the stop file exists.
    """

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    say(usage)
    exit(2)
}
do {
    let rest = arguments.dropFirst(2)
    switch arguments[1] {
    case "sse":
        try runSubscribers(Options(rest, flags: []), idle: false)
    case "ws":
        try runSubscribers(Options(rest, flags: []), idle: false, webSocket: true)
    case "idle-sse":
        try runSubscribers(Options(rest, flags: []), idle: true)
    case "publish":
        try runPublisher(Options(rest, flags: ["max"]))
    case "receive":
        try runReceiver(Options(rest, flags: []))
    case "-h", "--help", "help":
        say(usage)
    default:
        throw UsageError(description: "unknown command \(arguments[1])")
    }
} catch {
    writeToStandardError("sluice-load: \(error)\n")
    exit(1)
}

func writeToStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

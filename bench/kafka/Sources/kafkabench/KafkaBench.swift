// kafkabench: Sluice's Kafka client (KafkaClient) under load, the counterpart of bench/kafka/librdkafka_bench.py.
//
//   kafkabench produce --bootstrap H:P --topic T [--records N] [--size B] [--partitions P] [--create]
//                      [--linger-ms MS] [--batch-bytes B] [--buffer-bytes B] [--in-flight N] [--fresh-values]
//   kafkabench memory   (produce options) [--stall-broker PID] [--stall-seconds S]   produce, with the broker
//                      stopped (SIGSTOP) for the first S seconds so the buffer fills; reports peak RSS
//   kafkabench latency  (produce options) [--rate R]          rate-limited; per-record ack time - enqueue time
//   kafkabench batchstats --bootstrap H:P --topic T [--partitions P]   record batches stored per partition
//   kafkabench consume --bootstrap H:P --topic T --records N [--partitions P] [--fetch-max-bytes B]
//                      [--max-partition-fetch-bytes B] [--consumer-buffer-bytes B] [--timeout S]
//
// Records: `--size` bytes of value (one shared buffer, or with --fresh-values a new buffer per record, as an
// application handing over its own bytes), an 8-digit decimal key (the record number), acks=1, no compression.
// Keyed, so both clients spread records over the partitions by murmur2(key) the same way. Prints one JSON line;
// exit status 1 with {"error": ...} on failure. Peak memory is the process's VmHWM from /proc/self/status.

import KafkaClient
import KafkaWire
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Options

struct Options {
    var mode = ""
    var bootstrap = "127.0.0.1:9092"
    var topic = "bench"
    var records = 200_000
    var size = 1024
    var partitions: Int32 = 4
    var create = false
    var lingerMs: Int64 = 5
    var batchBytes = 1024 * 1024
    var bufferBytes = 32 * 1024 * 1024
    var inFlight = 5
    var rate = 10_000.0
    var fetchMaxBytes: Int32 = 50 * 1024 * 1024
    var maxPartitionFetchBytes: Int32 = 1024 * 1024
    var consumerBufferBytes = 32 * 1024 * 1024
    var timeoutSeconds = 120.0
    /// Memory runs: the broker's pid, stopped (SIGSTOP) once producing starts and continued after `stallSeconds`,
    /// so nothing is acknowledged for a while and the producer's buffer fills to its bound.
    var stallBroker: Int32 = 0
    var stallSeconds = 4.0
    /// A new value buffer per record (an application handing over its own bytes) instead of one shared buffer
    /// (what the Python side passes: the same `bytes` object, which librdkafka copies).
    var freshValues = false

    init(_ arguments: [String]) throws {
        guard let first = arguments.first else { throw BenchError("usage: kafkabench produce|latency|consume ...") }
        mode = first
        var index = 1
        func value() throws -> String {
            guard index + 1 < arguments.count else { throw BenchError("\(arguments[index]) needs a value") }
            index += 1
            return arguments[index]
        }
        func int(_ text: String) throws -> Int {
            guard let number = Int(text) else { throw BenchError("'\(text)' is not a number") }
            return number
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--bootstrap": bootstrap = try value()
            case "--topic": topic = try value()
            case "--records": records = try int(value())
            case "--size": size = try int(value())
            case "--partitions": partitions = Int32(try int(value()))
            case "--create": create = true
            case "--fresh-values": freshValues = true
            case "--linger-ms": lingerMs = Int64(try int(value()))
            case "--batch-bytes": batchBytes = try int(value())
            case "--buffer-bytes": bufferBytes = try int(value())
            case "--in-flight": inFlight = try int(value())
            case "--rate": rate = Double(try int(value()))
            case "--fetch-max-bytes": fetchMaxBytes = Int32(try int(value()))
            case "--max-partition-fetch-bytes": maxPartitionFetchBytes = Int32(try int(value()))
            case "--consumer-buffer-bytes": consumerBufferBytes = try int(value())
            case "--timeout": timeoutSeconds = Double(try int(value()))
            case "--stall-broker": stallBroker = Int32(try int(value()))
            case "--stall-seconds": stallSeconds = Double(try int(value()))
            default: throw BenchError("unknown option \(arguments[index])")
            }
            index += 1
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: Clock, memory, output

@inline(__always)
func monotonicNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// VmRSS and VmHWM (peak) of this process in KiB, from /proc/self/status; zeros where unavailable.
func memoryKiB() -> (rss: Int, hwm: Int) {
    guard let file = fopen("/proc/self/status", "r") else { return (0, 0) }
    defer { fclose(file) }
    var rss = 0
    var hwm = 0
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let number = Int(text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        if text.hasPrefix("VmRSS:") { rss = number }
        if text.hasPrefix("VmHWM:") { hwm = number }
    }
    return (rss, hwm)
}

enum JSONValue {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    var encoded: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value): return value.isFinite ? String(value) : "null"
        case .bool(let value): return value ? "true" : "false"
        case .string(let value):
            var out = "\""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default:
                    if scalar.value < 0x20 {
                        out += "\\u00" + String(scalar.value, radix: 16).leftPadded(to: 2)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out + "\""
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

func emit(_ fields: [(String, JSONValue)]) {
    let body = fields.map { "\(JSONValue.string($0.0).encoded):\($0.1.encoded)" }.joined(separator: ",")
    print("{\(body)}")
    fflush(nil)
}

func rounded(_ value: Double, _ places: Int = 3) -> Double {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (value * scale).rounded() / scale
}

// MARK: Records

/// The value bytes every record carries (copied into a fresh buffer per record).
func payload(size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: 0x61 + $0 % 26) }
}

/// The record number as 8 ASCII digits, as the Python side writes `b"%08d" % i`.
@inline(__always)
func key(_ number: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(8)
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48, 48, 48, 48, 48)
    var rest = number
    withUnsafeMutableBytes(of: &digits) { raw in
        var position = 7
        while rest > 0 && position >= 0 {
            raw[position] = UInt8(48 + rest % 10)
            rest /= 10
            position -= 1
        }
        buffer.writeBytes(raw)
    }
    return buffer
}

final class DeliveryCounters: Sendable {
    let delivered = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let firstError = Mutex<String?>(nil)

    func record(_ result: Result<KafkaRecordMetadata, KafkaError>) {
        switch result {
        case .success: delivered.add(1, ordering: .relaxed)
        case .failure(let error):
            failed.add(1, ordering: .relaxed)
            firstError.withLock { if $0 == nil { $0 = "\(error)" } }
        }
    }
}

/// Per-record ack latencies; each slot is written once, by its own record's delivery callback.
final class LatencyStore: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<UInt64>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: UInt64.max)
    }
    deinit { slots.deallocate() }
}

func makeCluster(_ options: Options) throws -> KafkaCluster {
    var configuration = try KafkaClientConfiguration(bootstrapServers: options.bootstrap)
    configuration.clientID = "kafkabench"
    return try KafkaCluster(configuration: configuration)
}

func producerConfiguration(_ options: Options) -> KafkaProducerConfiguration {
    var configuration = KafkaProducerConfiguration()
    configuration.acks = .leader
    configuration.linger = .milliseconds(options.lingerMs)
    configuration.batchBytes = options.batchBytes
    configuration.bufferBytes = options.bufferBytes
    configuration.maximumInFlightRequestsPerBroker = options.inFlight
    configuration.compression = .none
    return configuration
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    // Nearest rank, as the Python side.
    var rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    rank = max(0, min(sorted.count - 1, rank))
    return Double(sorted[rank]) / 1_000_000
}

// MARK: Produce (throughput, memory) and latency

func produce(_ options: Options, rateLimited: Bool) async throws {
    let cluster = try makeCluster(options)
    if options.create {
        try await cluster.createTopics([(name: options.topic, partitions: options.partitions)])
    }
    let producer = try KafkaProducer(cluster: cluster, configuration: producerConfiguration(options))
    // Warm-up outside the clock, as the Python side's list_topics: metadata and the leader's connection.
    let metadata = try await cluster.metadata(for: options.topic)
    for partition in metadata.partitions where partition.leader >= 0 {
        _ = try await cluster.connection(toNode: partition.leader)
    }
    let bytes = payload(size: options.size)
    let shared = ByteBuffer(bytes: bytes)
    let fresh = options.freshValues
    let counters = DeliveryCounters()
    let latencies = LatencyStore(count: rateLimited ? options.records : 0)
    let before = memoryKiB()
    var started: UInt64 = 0
    var enqueued: UInt64 = 0
    var finished: UInt64 = 0
    let records = options.records

    let stalledBroker = options.stallBroker
    let stallNanos = UInt64(options.stallSeconds * 1e9)
    defer { if stalledBroker > 0 { kill(stalledBroker, SIGCONT) } }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await producer.run() }
        if stalledBroker > 0 {
            guard kill(stalledBroker, SIGSTOP) == 0 else { throw BenchError("cannot stop broker \(stalledBroker)") }
            group.addTask {
                try? await Task.sleep(nanoseconds: stallNanos)
                kill(stalledBroker, SIGCONT)
            }
        }
        started = monotonicNanos()
        if rateLimited {
            let interval = 1e9 / options.rate
            var index = 0
            while index < records {
                let now = monotonicNanos()
                let due = started + UInt64(Double(index) * interval)
                if due > now {
                    try await Task.sleep(nanoseconds: min(due - now, 1_000_000))
                    continue
                }
                let slot = index
                let record = KafkaProducerRecord(
                    topic: options.topic, key: key(index), value: fresh ? ByteBuffer(bytes: bytes) : shared)
                let enqueuedAt = monotonicNanos()
                try await producer.produce(record) { result in
                    latencies.slots[slot] = monotonicNanos() - enqueuedAt
                    counters.record(result)
                }
                index += 1
            }
        } else {
            let callback: @Sendable (Result<KafkaRecordMetadata, KafkaError>) -> Void = { counters.record($0) }
            for index in 0..<records {
                let record = KafkaProducerRecord(
                    topic: options.topic, key: key(index), value: fresh ? ByteBuffer(bytes: bytes) : shared)
                try await producer.produce(record, onDelivery: callback)
            }
        }
        enqueued = monotonicNanos()
        await producer.flush()
        finished = monotonicNanos()
        producer.close()
        try await group.waitForAll()
    }
    let after = memoryKiB()
    await cluster.shutdown()

    let seconds = Double(finished - started) / 1e9
    let delivered = counters.delivered.load(ordering: .relaxed)
    var fields: [(String, JSONValue)] = [
        ("client", .string("sluice")),
        ("mode", .string(rateLimited ? "latency" : "produce")),
        ("topic", .string(options.topic)),
        ("records", .int(records)),
        ("delivered", .int(delivered)),
        ("failed", .int(counters.failed.load(ordering: .relaxed))),
        ("seconds", .double(rounded(seconds, 4))),
        ("records_per_s", .double(rounded(Double(delivered) / seconds, 1))),
        ("enqueue_seconds", .double(rounded(Double(enqueued - started) / 1e9, 4))),
        ("rss_before_kib", .int(before.rss)),
        ("hwm_before_kib", .int(before.hwm)),
        ("hwm_kib", .int(after.hwm)),
        ("rss_end_kib", .int(after.rss)),
        ("buffer_bytes", .int(options.bufferBytes)),
        ("batch_bytes", .int(options.batchBytes)),
        ("linger_ms", .int(Int(options.lingerMs))),
        ("fresh_values", .bool(options.freshValues)),
        ("broker_stalled_s", .double(options.stallBroker > 0 ? options.stallSeconds : 0)),
    ]
    if let error = counters.firstError.withLock({ $0 }) { fields.append(("first_error", .string(error))) }
    if rateLimited {
        let sorted = Array(latencies.slots.filter { $0 != UInt64.max }).sorted()
        fields += [
            ("rate_target", .double(options.rate)),
            ("rate_achieved", .double(rounded(Double(records) / (Double(enqueued - started) / 1e9), 1))),
            ("latency_samples", .int(sorted.count)),
            ("p50_ms", .double(rounded(percentile(sorted, 50)))),
            ("p99_ms", .double(rounded(percentile(sorted, 99)))),
            ("p999_ms", .double(rounded(percentile(sorted, 99.9)))),
            ("max_ms", .double(rounded(Double(sorted.last ?? 0) / 1e6))),
        ]
    }
    emit(fields)
}

// MARK: Consume

func consume(_ options: Options) async throws {
    let cluster = try makeCluster(options)
    var configuration = KafkaConsumerConfiguration()
    configuration.fetchMaxBytes = options.fetchMaxBytes
    configuration.maxPartitionFetchBytes = options.maxPartitionFetchBytes
    configuration.bufferBytes = options.consumerBufferBytes
    configuration.autoOffsetReset = .earliest
    let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
    // Warm-up outside the clock, as the Python side's list_topics.
    let metadata = try await cluster.metadata(for: options.topic)
    var assignment: [KafkaTopicPartition: KafkaOffsetSpec] = [:]
    for partition in metadata.partitions {
        assignment[KafkaTopicPartition(topic: options.topic, partition: partition.partition)] = .earliest
    }
    let partitions = assignment
    let before = memoryKiB()
    let target = options.records
    let started = monotonicNanos()
    let timeoutNanos = UInt64(options.timeoutSeconds * 1e9)

    struct Outcome: Sendable {
        var count = 0
        var valueBytes = 0
        var first: UInt64 = 0
        var last: UInt64 = 0
        var timedOut = false
    }
    let outcome = try await withThrowingTaskGroup(of: Outcome?.self) { group in
        group.addTask {
            try await consumer.run()
            return nil
        }
        group.addTask {
            var outcome = Outcome()
            consumer.assign(partitions)
            for try await record in consumer.records {
                if outcome.count == 0 { outcome.first = monotonicNanos() }
                outcome.count += 1
                outcome.valueBytes &+= record.value?.readableBytes ?? 0
                if outcome.count == target { break }
            }
            outcome.last = monotonicNanos()
            return outcome
        }
        group.addTask {
            try? await Task.sleep(nanoseconds: timeoutNanos)
            var outcome = Outcome()
            outcome.timedOut = true
            outcome.last = monotonicNanos()
            return outcome
        }
        var result = Outcome()
        while let next = try await group.next() {
            if let next {
                result = next
                break
            }
        }
        consumer.close()
        group.cancelAll()
        return result
    }
    let after = memoryKiB()
    await cluster.shutdown()
    let seconds = Double(outcome.last - started) / 1e9
    let steady = outcome.count > 1 ? Double(outcome.last - outcome.first) / 1e9 : .nan
    emit([
        ("client", .string("sluice")),
        ("mode", .string("consume")),
        ("topic", .string(options.topic)),
        ("records", .int(target)),
        ("consumed", .int(outcome.count)),
        ("timed_out", .bool(outcome.timedOut)),
        ("value_bytes", .int(outcome.valueBytes)),
        ("seconds", .double(rounded(seconds, 4))),
        ("records_per_s", .double(rounded(Double(outcome.count) / seconds, 1))),
        ("first_record_s", .double(rounded(Double(outcome.first &- started) / 1e9, 4))),
        ("steady_records_per_s", .double(rounded(Double(outcome.count - 1) / steady, 1))),
        ("rss_before_kib", .int(before.rss)),
        ("hwm_kib", .int(after.hwm)),
    ])
}

// MARK: Batch statistics (a diagnostic: how the records of a topic are batched)

func batchStatistics(_ options: Options) async throws {
    let cluster = try makeCluster(options)
    let metadata = try await cluster.metadata(for: options.topic)
    var fields: [(String, JSONValue)] = [
        ("client", .string("sluice")), ("mode", .string("batchstats")),
        ("topic", .string(options.topic)),
    ]
    var totalBatches = 0
    var totalRecords = 0
    var totalBytes = 0
    for partition in metadata.partitions.sorted(by: { $0.partition < $1.partition }) {
        let connection = try await cluster.connection(toNode: partition.leader)
        var offset: Int64 = 0
        var batches = 0
        var records = 0
        var bytes = 0
        while true {
            // tansu answers a Fetch with max wait 0 with no records at all, so wait up to 500 ms like a consumer.
            let request = KafkaFetchRequest(
                replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 50 * 1024 * 1024, isolationLevel: 0,
                sessionId: 0, sessionEpoch: -1,
                topics: [
                    .init(
                        topic: options.topic,
                        partitions: [
                            .init(
                                partition: partition.partition,
                                currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1,
                                partitionMaxBytes: 4 * 1024 * 1024)
                        ])
                ])
            let response = try await connection.send(request, version: 12)
            guard let data = response.responses.first?.partitions.first, let raw = data.records, raw.readableBytes > 0
            else { break }
            let decoded = try KafkaRecordBatchDecoder.decode(raw)
            guard let last = decoded.last, last.nextOffset > offset else { break }
            for batch in decoded where batch.lastOffset >= offset {
                batches += 1
                records += batch.records.count
            }
            bytes += raw.readableBytes
            offset = last.nextOffset
            if offset >= data.highWatermark { break }
        }
        fields.append(("p\(partition.partition)_batches", .int(batches)))
        totalBatches += batches
        totalRecords += records
        totalBytes += bytes
    }
    await cluster.shutdown()
    fields += [
        ("batches", .int(totalBatches)), ("records", .int(totalRecords)),
        ("records_per_batch", .double(rounded(Double(totalRecords) / Double(max(1, totalBatches)), 1))),
        ("fetched_bytes", .int(totalBytes)),
    ]
    emit(fields)
}

// MARK: Main

@main
struct KafkaBench {
    static func main() async {
        do {
            let options = try Options(Array(CommandLine.arguments.dropFirst()))
            switch options.mode {
            case "produce", "memory": try await produce(options, rateLimited: false)
            case "latency": try await produce(options, rateLimited: true)
            case "consume": try await consume(options)
            case "batchstats": try await batchStatistics(options)
            default: throw BenchError("unknown mode '\(options.mode)': produce, memory, latency or consume")
            }
        } catch {
            emit([("client", .string("sluice")), ("error", .string("\(error)"))])
            exit(1)
        }
    }
}

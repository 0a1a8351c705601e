import Foundation

/// librdkafka (PyPI `confluent-kafka`) as the reference client, driven through `tests/interop/kafka_oracle.py`:
/// one subcommand per call, one JSON object back. Its Python is `SLUICE_PYTHON`, else `.build-venv/bin/python3`.
///
/// ```swift
/// let oracle = LibrdkafkaOracle()
/// try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "orders", partitions: 3)
/// let delivered = try await oracle.produce(bootstrap: broker.bootstrap, topic: "orders",
///                                          records: [OracleRecord(key: "k1", value: "v1")])
/// let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: "orders", count: 1)
/// ```
package struct LibrdkafkaOracle: Sendable {
    package let python: URL
    package let script: URL
    /// Why the oracle cannot run (no Python, no script): thrown by every call, so that creating an oracle never
    /// fails.
    private let problem: BrokerHarnessError?

    package init() {
        script = BrokerTestEnvironment.packageRoot().appendingPathComponent("tests/interop/kafka_oracle.py")
        do {
            python = try BrokerTestEnvironment.python()
            problem =
                FileManager.default.fileExists(atPath: script.path)
                ? nil : BrokerHarnessError("the librdkafka oracle is missing: \(script.path)")
        } catch {
            python = URL(fileURLWithPath: "/nonexistent/python3")
            problem = error as? BrokerHarnessError ?? BrokerHarnessError("\(error)")
        }
    }

    // MARK: - running the script

    /// Runs `kafka_oracle.py <command> <arguments...>` with `input` on its standard input, and returns the JSON
    /// object it printed. Throws, with the script's stderr, when it exits non-zero or runs longer than `timeout`.
    package func run(
        _ command: String, _ arguments: [String], input: String? = nil, timeout: Duration = .seconds(60)
    )
        async throws -> Data
    {
        if let problem { throw problem }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdout = directory.appendingPathComponent("stdout.json")
        let stderr = directory.appendingPathComponent("stderr.log")
        var inputFile: URL?
        if let input {
            inputFile = directory.appendingPathComponent("stdin")
            try Data(input.utf8).write(to: inputFile!)
        }
        let commandLine = ([command] + arguments).joined(separator: " ")
        let process = try ChildProcess.launch(
            executable: python, arguments: [script.path, command] + arguments,
            environment: ProcessInfo.processInfo.environment, log: stderr, input: inputFile, output: stdout)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            await process.stop(graceful: true, timeout: .seconds(3))
            throw BrokerHarnessError(
                "kafka_oracle.py \(commandLine) ran longer than \(timeout); stderr:\n"
                    + ChildProcess.tail(of: stderr, lines: 40))
        }
        let output = FileManager.default.contents(atPath: stdout.path) ?? Data()
        guard process.exitStatus == 0 else {
            throw BrokerHarnessError(
                "kafka_oracle.py \(commandLine) failed (exit status \(process.exitStatus)): "
                    + "\(String(decoding: output, as: UTF8.self))\nstderr:\n"
                    + ChildProcess.tail(of: stderr, lines: 40))
        }
        return output
    }

    /// ``run(_:_:input:timeout:)``, decoding the JSON object (snake_case keys) as `T`.
    package func run<T: Decodable>(
        _ type: T.Type, _ command: String, _ arguments: [String], input: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> T {
        let data = try await run(command, arguments, input: input, timeout: timeout)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw BrokerHarnessError(
                "kafka_oracle.py \(command): unexpected output \(String(decoding: data, as: UTF8.self)): \(error)")
        }
    }

    // MARK: - subcommands

    /// Creates a topic (replication factor 1); returns its partition count as the broker reports it.
    @discardableResult
    package func createTopic(
        bootstrap: String, topic: String, partitions: Int, existOK: Bool = false
    ) async throws -> Int {
        struct Created: Decodable { let partitions: Int }
        var arguments = ["--bootstrap", bootstrap, "--topic", topic, "--partitions", String(partitions)]
        if existOK { arguments.append("--exist-ok") }
        return try await run(Created.self, "create-topic", arguments).partitions
    }

    package func deleteTopic(bootstrap: String, topic: String) async throws {
        _ = try await run("delete-topic", ["--bootstrap", bootstrap, "--topic", topic])
    }

    /// Produces `records` with librdkafka and returns one delivery report per record, in input order.
    /// `acks`: "all", "1" or "0"; `compression`: none, gzip, snappy, lz4, zstd.
    package func produce(
        bootstrap: String, topic: String, records: [OracleRecord], acks: String = "all",
        compression: String = "none", idempotent: Bool = false, partitioner: String = "murmur2_random",
        config: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> [OracleDelivery] {
        struct Produced: Decodable { let delivered: [OracleDelivery] }
        var arguments = [
            "--bootstrap", bootstrap, "--topic", topic, "--records", "-", "--acks", acks, "--compression",
            compression, "--partitioner", partitioner,
        ]
        if idempotent { arguments.append("--idempotent") }
        arguments += config.sorted { $0.key < $1.key }.flatMap { ["--config", "\($0.key)=\($0.value)"] }
        let input = try records.map { try $0.jsonLine() }.joined(separator: "\n")
        return try await run(Produced.self, "produce", arguments, input: input, timeout: timeout).delivered
    }

    /// Consumes by assignment (no group): all partitions from the start (or the end), or one `partition` from
    /// `offset`; stops after `count` records or `seconds`.
    package func consume(
        bootstrap: String, topic: String, count: Int, seconds: Double = 20, fromBeginning: Bool = true,
        partition: Int? = nil, offset: Int64? = nil
    ) async throws -> [OracleConsumedRecord] {
        struct Consumed: Decodable { let records: [OracleConsumedRecord] }
        var arguments = [
            "--bootstrap", bootstrap, "--topic", topic, "--count", String(count), "--timeout", String(seconds),
        ]
        if fromBeginning { arguments.append("--from-beginning") }
        if let partition { arguments += ["--partition", String(partition)] }
        if let offset { arguments += ["--offset", String(offset)] }
        return try await run(Consumed.self, "consume", arguments, timeout: .seconds(seconds + 30)).records
    }

    /// Joins `group` as a librdkafka member, consumes (committing after each batch when `commit`), and reports
    /// records and assignment history. It stops after `idleSeconds` without records (once assigned), after
    /// `maxRecords`, or after `maxSeconds`. `abandon` exits without leaving the group, like a crash.
    package func groupMember(
        bootstrap: String, group: String, topics: [String], assignor: String = "range", maxRecords: Int? = nil,
        idleSeconds: Double = 5, maxSeconds: Double = 60, commit: Bool = true, abandon: Bool = false,
        sessionTimeoutMs: Int = 6000
    ) async throws -> OracleGroupMemberReport {
        var arguments = [
            "--bootstrap", bootstrap, "--group", group, "--topics", topics.joined(separator: ","), "--assignor",
            assignor, "--idle-seconds", String(idleSeconds), "--max-seconds", String(maxSeconds),
            "--session-timeout-ms", String(sessionTimeoutMs),
        ]
        if let maxRecords { arguments += ["--max-records", String(maxRecords)] }
        if commit { arguments.append("--commit") }
        if abandon { arguments.append("--abandon") }
        return try await run(
            OracleGroupMemberReport.self, "group-member", arguments, timeout: .seconds(maxSeconds + 30))
    }

    /// The partition librdkafka's partitioner (murmur2_random by default) chose for each key, in key order: one
    /// record per key is produced to `topic`, which must exist. Keys must not contain newlines.
    package func partitionsForKeys(
        bootstrap: String, topic: String, keys: [String], partitioner: String = "murmur2_random"
    ) async throws -> [Int] {
        struct Partitions: Decodable { let partitions: [Int] }
        let input = keys.joined(separator: "\n") + "\n"
        return try await run(
            Partitions.self, "partitions-for-keys",
            ["--bootstrap", bootstrap, "--topic", topic, "--keys-file", "-", "--partitioner", partitioner],
            input: input, timeout: .seconds(120)
        ).partitions
    }

    /// librdkafka's DescribeGroups view of `group` (tansu reports the state but no member details).
    package func describeGroup(bootstrap: String, group: String) async throws -> OracleGroupDescription {
        try await run(OracleGroupDescription.self, "describe-group", ["--bootstrap", bootstrap, "--group", group])
    }

    /// The committed offset of `group` for each partition of `topic` (nil: nothing committed).
    package func committed(bootstrap: String, group: String, topic: String) async throws -> [Int: Int64?] {
        struct Committed: Decodable {
            struct Offset: Decodable {
                let partition: Int
                let offset: Int64?
            }
            let offsets: [Offset]
        }
        let result = try await run(
            Committed.self, "committed", ["--bootstrap", bootstrap, "--group", group, "--topic", topic])
        return Dictionary(uniqueKeysWithValues: result.offsets.map { ($0.partition, $0.offset) })
    }

    /// ListOffsets through librdkafka; `spec` is earliest, latest, max-timestamp or a timestamp in ms.
    /// (tansu 0.6 answers latest and timestamps wrongly: see docs/kafka-test-broker.md.)
    package func listOffsets(bootstrap: String, topic: String, spec: String) async throws -> [Int: Int64] {
        struct Listed: Decodable {
            struct Offset: Decodable {
                let partition: Int
                let offset: Int64
            }
            let offsets: [Offset]
        }
        let result = try await run(
            Listed.self, "list-offsets", ["--bootstrap", bootstrap, "--topic", topic, "--spec", spec])
        return Dictionary(uniqueKeysWithValues: result.offsets.map { ($0.partition, $0.offset) })
    }
}

// MARK: - values

/// A record for ``LibrdkafkaOracle/produce(bootstrap:topic:records:acks:compression:idempotent:partitioner:config:timeout:)``.
package struct OracleRecord: Sendable, Equatable {
    package var key: [UInt8]?
    package var value: [UInt8]?
    package var headers: [OracleHeader]?
    /// Milliseconds since the epoch; nil lets librdkafka use the current time.
    package var timestamp: Int64?
    /// nil lets the partitioner choose.
    package var partition: Int?

    package init(
        key: [UInt8]?, value: [UInt8]?, headers: [OracleHeader]? = nil, timestamp: Int64? = nil,
        partition: Int? = nil
    ) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.partition = partition
    }

    package init(
        key: String?, value: String?, headers: [OracleHeader]? = nil, timestamp: Int64? = nil, partition: Int? = nil
    ) {
        self.init(
            key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers,
            timestamp: timestamp, partition: partition)
    }

    /// The oracle's input line: bytes in base64, absent fields left out (the oracle reads them as null).
    package func jsonLine() throws -> String {
        struct Line: Encodable {
            let key: String?
            let value: String?
            let headers: [[String?]]?
            let timestamp: Int64?
            let partition: Int?
        }
        let line = Line(
            key: base64(key), value: base64(value), headers: headers?.map { [$0.key, base64($0.value)] },
            timestamp: timestamp, partition: partition)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(line), as: UTF8.self)
    }
}

package struct OracleHeader: Sendable, Equatable {
    package var key: String
    package var value: [UInt8]?

    package init(_ key: String, _ value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    package init(_ key: String, _ value: String?) {
        self.init(key, value.map { Array($0.utf8) })
    }
}

/// librdkafka's delivery report for one produced record.
package struct OracleDelivery: Decodable, Sendable, Equatable {
    package let partition: Int
    /// nil when the broker did not say (acks=0).
    package let offset: Int64?
    package let timestamp: Int64?
    package let timestampType: String
    package let error: String?
}

/// A record as librdkafka consumed it.
package struct OracleConsumedRecord: Decodable, Sendable, Equatable {
    package let topic: String
    package let partition: Int
    package let offset: Int64
    package let key: [UInt8]?
    package let value: [UInt8]?
    package let headers: [OracleHeader]?
    package let timestamp: Int64?
    /// "create_time", "log_append_time" or "not_available".
    package let timestampType: String

    private enum CodingKeys: String, CodingKey {
        case topic, partition, offset, key, value, headers, timestamp, timestampType
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        topic = try container.decode(String.self, forKey: .topic)
        partition = try container.decode(Int.self, forKey: .partition)
        offset = try container.decode(Int64.self, forKey: .offset)
        key = try decodeBase64(container.decodeIfPresent(String.self, forKey: .key))
        value = try decodeBase64(container.decodeIfPresent(String.self, forKey: .value))
        headers = try container.decodeIfPresent([[String?]].self, forKey: .headers)?.map { pair in
            guard pair.count == 2, let name = pair[0] else {
                throw DecodingError.dataCorruptedError(
                    forKey: .headers, in: container, debugDescription: "header \(pair) is not [key, value]")
            }
            return OracleHeader(name, try decodeBase64(pair[1]))
        }
        timestamp = try container.decodeIfPresent(Int64.self, forKey: .timestamp)
        timestampType = try container.decode(String.self, forKey: .timestampType)
    }
}

package struct OracleTopicPartition: Decodable, Sendable, Hashable, CustomStringConvertible {
    package let topic: String
    package let partition: Int

    package init(_ topic: String, _ partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    /// From `[topic, partition]`.
    package init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        topic = try container.decode(String.self)
        partition = try container.decode(Int.self)
    }

    package var description: String { "\(topic)-\(partition)" }
}

/// What one `group-member` run saw.
package struct OracleGroupMemberReport: Decodable, Sendable {
    package struct Event: Decodable, Sendable {
        /// "assign", "revoke" or "lost".
        package let event: String
        /// Seconds since the member started.
        package let at: Double
        package let partitions: [OracleTopicPartition]
    }
    package let group: String
    package let memberId: String?
    /// "idle", "max-records" or "max-seconds".
    package let stopReason: String
    package let records: [OracleConsumedRecord]
    package let assignments: [Event]
    package let commits: Int
    package let errors: [String]

    /// The partitions of each "assign" event, in order.
    package var assignedSets: [Set<OracleTopicPartition>] {
        assignments.filter { $0.event == "assign" }.map { Set($0.partitions) }
    }
}

package struct OracleGroupDescription: Decodable, Sendable {
    package struct Member: Decodable, Sendable {
        package let memberId: String
        package let clientId: String
        package let host: String
        package let assignment: [OracleTopicPartition]
    }
    package let group: String
    /// librdkafka's state name: "STABLE", "EMPTY", "PREPARING_REBALANCING", ...
    package let state: String?
    package let partitionAssignor: String
    package let members: [Member]
}

private func base64(_ bytes: [UInt8]?) -> String? {
    bytes.map { Data($0).base64EncodedString() }
}

private func decodeBase64(_ text: String?) throws -> [UInt8]? {
    guard let text else { return nil }
    guard let data = Data(base64Encoded: text) else {
        throw BrokerHarnessError("not base64: \(text)")
    }
    return Array(data)
}

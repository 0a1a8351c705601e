import Foundation
import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

@Suite struct ZZProbeTests {
    @Test func probe() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "volatile", partitions: 2)
            let cluster = try KafkaCluster(configuration: KafkaClientConfiguration(bootstrapServers: broker.bootstrap))
            try await cluster.refreshMetadata(topics: ["volatile"])
            print("before", await cluster.knownTopics["volatile"]?.partitionCount as Any)
            try await broker.restart(graceful: false)
            for i in 0..<6 {
                do { try await cluster.refreshMetadata(topics: ["volatile"]) } catch { print("err", error) }
                print(i, "after restart", await cluster.knownTopics["volatile"]?.partitionCount as Any)
                try await Task.sleep(for: .milliseconds(300))
            }
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "volatile", partitions: 3)
            for i in 0..<10 {
                do { try await cluster.refreshMetadata(topics: ["volatile"]) } catch { print("err", error) }
                let c = try await cluster.anyConnection()
                let r = try await c.send(KafkaMetadataRequest(topics: [.init(name: "volatile")], allowAutoTopicCreation: false))
                print(i, "after create", await cluster.knownTopics["volatile"]?.partitionCount as Any, r.topics.map { ($0.name as Any, $0.errorCode, $0.partitions.map { ($0.partitionIndex, $0.errorCode, $0.leaderId) }) })
                try await Task.sleep(for: .milliseconds(300))
            }
            await cluster.shutdown()
        }
    }
}

import Foundation
import KafkaClient
import KafkaTestSupport
import KafkaWire
import NIOCore
import NIOSSL
import Testing

/// TLS to a real broker. tansu 0.6 has no TLS listener, so a TLS-terminating proxy (`tests/interop/tls_proxy.py`)
/// sits in front of it and the broker advertises the proxy's port: every connection the client opens, bootstrap
/// and from metadata, goes through TLS.
@Suite(.serialized) struct TLSBrokerTests {
    @Test func producesAndConsumesOverTLSAndRefusesAnUntrustedCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem")
        let key = directory.appendingPathComponent("key.pem")
        try makeTestCertificate(certificate: certificate, key: key)
        let proxyPort = try freeLoopbackPort()
        try await withTansuBroker(advertisedPort: proxyPort) { broker in
            let proxy = try await startTLSProxy(
                listenPort: proxyPort, targetPort: broker.port, certificate: certificate, key: key, directory: directory
            )
            do {
                try await exchangeRecords(proxyPort: proxyPort, certificate: certificate)
            } catch {
                await proxy.stop(graceful: false)
                throw error
            }
            await proxy.stop(graceful: true)
        }
    }

    private func exchangeRecords(proxyPort: Int, certificate: URL) async throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate.path))
        var configuration = try KafkaClientConfiguration(bootstrapServers: "127.0.0.1:\(proxyPort)")
        configuration.tls = tls
        configuration.tlsServerHostname = "localhost"
        let cluster = try KafkaCluster(configuration: configuration)
        try await cluster.createTopics([("secure", 2)])
        let producer = try KafkaProducer(cluster: cluster)
        let consumer = KafkaConsumer(cluster: cluster)
        consumer.assign([
            KafkaTopicPartition(topic: "secure", partition: 0): .earliest,
            KafkaTopicPartition(topic: "secure", partition: 1): .earliest,
        ])
        let received = try await whileRunning(producer, [consumer]) {
            for index in 0..<20 {
                _ = try await producer.send(
                    KafkaProducerRecord(
                        topic: "secure", key: ByteBuffer(string: "\(index)"),
                        value: ByteBuffer(string: "secret \(index)"))
                )
            }
            return try await collect(20, from: consumer)
        }
        #expect(Set(received.map { String(buffer: $0.value!) }) == Set((0..<20).map { "secret \($0)" }))
        await cluster.shutdown()

        // A client that does not trust the proxy's certificate gets no connection.
        var untrusting = try KafkaClientConfiguration(bootstrapServers: "127.0.0.1:\(proxyPort)")
        untrusting.tls = TLSConfiguration.makeClientConfiguration()
        untrusting.tlsServerHostname = "localhost"
        untrusting.timeouts.connect = .seconds(3)
        let refused = try KafkaCluster(configuration: untrusting)
        let error = await #expect(throws: KafkaError.self) { try await refused.anyConnection() }
        #expect(error?.code == .connectionFailed)
        await refused.shutdown()
    }
}

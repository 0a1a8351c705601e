import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

@testable import MQTT5

/// What no stock broker does without plugins: re-authentication, and the client's life in a `ServiceGroup`.
@Suite struct ScriptedServerTests {
    static func connAck(_ properties: MQTTProperties = MQTTProperties()) -> FakeMQTTServer.Reply {
        .packet(.connAck(MQTTConnAckPacket(properties: properties)))
    }

    @Test func reauthenticationRunsAnAuthExchangeOnTheOpenConnection() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            var properties = MQTTProperties()
            properties.authenticationMethod = "TOKEN"
            switch packet {
            case .connect(let connect) where connect.properties.authenticationData == ByteBuffer(string: "token-1"):
                return [.packet(.connAck(MQTTConnAckPacket(properties: properties)))]
            case .auth(let auth) where auth.reasonCode == .reAuthenticate:
                // A challenge, as if the token had to be proven.
                properties.authenticationData = ByteBuffer(string: "nonce")
                return [.packet(.auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: properties)))]
            case .auth(let auth) where auth.properties.authenticationData == ByteBuffer(string: "signed nonce"):
                return [.packet(.auth(MQTTAuthPacket(reasonCode: .success, properties: properties)))]
            case .auth:
                return [.packet(.disconnect(MQTTDisconnectPacket(reasonCode: .notAuthorized))), .close]
            default:
                return []
            }
        }
        try await server.serving {
            let tokens = NIOLockedValueBox(["token-1", "token-2"])
            let client = MQTT5Client(
                configuration: testConfiguration(port: server.port, id: "reauth") {
                    $0.authenticator = MQTT5ClosureAuthenticator(
                        method: "TOKEN",
                        initialData: { ByteBuffer(string: tokens.withLockedValue { $0.removeFirst() }) },
                        respond: { challenge in
                            ByteBuffer(string: "signed \(String(buffer: challenge ?? ByteBuffer()))")
                        })
                }, logger: testLogger("reauth"))
            try await whileRunning([client]) {
                try await client.reauthenticate()
            }
            let auths = server.received.compactMap { packet -> MQTTAuthPacket? in
                if case .auth(let auth) = packet { return auth }
                return nil
            }
            #expect(auths.map(\.reasonCode) == [.reAuthenticate, .continueAuthentication])
            #expect(auths.first?.properties.authenticationData == ByteBuffer(string: "token-2"))
            #expect(auths.allSatisfy { $0.properties.authenticationMethod == "TOKEN" })
            #expect(server.connectionCount == 1)
        }
    }

    @Test func aReconnectionUsesTheClientIdentifierTheServerAssigned() async throws {
        let server = try await FakeMQTTServer.start { packet, connection in
            guard case .connect = packet else { return [] }
            var properties = MQTTProperties()
            properties.assignedClientIdentifier = "auto-7"
            guard connection == 1 else { return [Self.connAck()] }
            return [Self.connAck(properties), .packet(.disconnect(MQTTDisconnectPacket(reasonCode: .serverBusy)))]
        }
        try await server.serving {
            let client = MQTT5Client(
                configuration: testConfiguration(port: server.port, id: "") { $0.sessionExpiryInterval = 60 },
                logger: testLogger("assigned"))
            let events = client.connectionEvents()
            try await whileRunning([client]) {
                // The first connection (assigned "auto-7") ends with Server busy; the second must follow.
                var connections = 0
                for await event in events {
                    if case .connected = event { connections += 1 }
                    if connections == 2 { break }
                }
            }
            let identifiers = server.received.compactMap { packet -> String? in
                if case .connect(let connect) = packet { return connect.clientIdentifier }
                return nil
            }
            #expect(identifiers == ["", "auto-7"])
        }
    }

    @Test func gracefulShutdownOfTheServiceGroupDisconnectsNormally() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            switch packet {
            case .connect: return [Self.connAck()]
            case .publish(let publish):
                guard let id = publish.packetIdentifier else { return [] }
                return [.packet(.pubAck(MQTTPubAckPacket(packetIdentifier: id)))]
            default: return []
            }
        }
        try await server.serving {
            let client = MQTT5Client(
                configuration: testConfiguration(port: server.port, id: "service"), logger: testLogger("service"))
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: client)],
                    logger: Logger(label: "group", factory: { _ in SwiftLogNoOpLogHandler() })))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                _ = try await withTimeout(.seconds(20), "a connection") { try await client.waitUntilConnected() }
                let result = try await client.publish(
                    topic: "service/up", payload: ByteBuffer(string: "1"), qos: .atLeastOnce)
                #expect(result.reasonCode == .success)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            _ = try await server.waitForPacket("DISCONNECT") {
                $0 == .disconnect(MQTTDisconnectPacket(reasonCode: .normalDisconnection))
            }
            // After the end, requests fail at once.
            do throws(MQTT5ClientError) {
                try await client.publish(topic: "service/late", payload: ByteBuffer())
                Issue.record("a publish after shutdown succeeded")
            } catch {
                #expect(error.code == .shutDown)
            }
        }
    }

    @Test func gracefulShutdownLetsPublishesInFlightBeAcknowledgedFirst() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            switch packet {
            case .connect:
                return [Self.connAck()]
            case .publish(let publish):
                // The acknowledgement takes its time: the shutdown must wait for it.
                guard let id = publish.packetIdentifier else { return [] }
                return [.after(.milliseconds(300), [.packet(.pubAck(MQTTPubAckPacket(packetIdentifier: id)))])]
            default:
                return []
            }
        }
        try await server.serving {
            let client = MQTT5Client(
                configuration: testConfiguration(port: server.port, id: "drain") {
                    $0.shutdownDrainTimeout = .seconds(10)
                },
                logger: testLogger("drain"))
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: client)],
                    logger: Logger(label: "group", factory: { _ in SwiftLogNoOpLogHandler() })))
            try await withThrowingTaskGroup(of: MQTTPublishResult?.self) { tasks in
                tasks.addTask {
                    try await group.run()
                    return nil
                }
                _ = try await withTimeout(.seconds(20), "a connection") { try await client.waitUntilConnected() }
                tasks.addTask {
                    try await client.publish(topic: "drain/1", payload: ByteBuffer(string: "1"), qos: .atLeastOnce)
                }
                _ = try await server.waitForPacket("the PUBLISH") {
                    if case .publish = $0 { return true }
                    return false
                }
                await group.triggerGracefulShutdown()
                var results: [MQTTPublishResult] = []
                for try await result in tasks {
                    if let result { results.append(result) }
                }
                #expect(results.map(\.reasonCode) == [.success])
            }
            // The DISCONNECT came after the PUBLISH was acknowledged.
            _ = try await server.waitForPacket("DISCONNECT") {
                $0 == .disconnect(MQTTDisconnectPacket(reasonCode: .normalDisconnection))
            }
        }
    }

    @Test func publishesMadeBeforeTheConnectionGoOutOnceConnected() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            switch packet {
            case .connect: return [Self.connAck()]
            case .publish(let publish):
                guard let id = publish.packetIdentifier else { return [] }
                return [.packet(.pubAck(MQTTPubAckPacket(packetIdentifier: id)))]
            default: return []
            }
        }
        try await server.serving {
            let client = MQTT5Client(
                configuration: testConfiguration(port: server.port, id: "early"), logger: testLogger("early"))
            try await withThrowingTaskGroup(of: MQTTPublishResult.self) { group in
                // Both wait in the client's queue until run() has connected.
                group.addTask { try await client.publish(topic: "early/0", payload: ByteBuffer(), qos: .atMostOnce) }
                group.addTask { try await client.publish(topic: "early/1", payload: ByteBuffer(), qos: .atLeastOnce) }
                try await eventually("both publishes queued") {
                    let driver = client.driver
                    return try await client.eventLoop.submit { driver.value.pendingPublishCount }.get() == 2
                }
                try await whileRunning([client]) {
                    var results: [MQTTPublishResult] = []
                    for try await result in group { results.append(result) }
                    #expect(results.count == 2)
                }
            }
            let topics = server.received.compactMap { packet -> String? in
                if case .publish(let publish) = packet { return publish.topicName }
                return nil
            }
            #expect(Set(topics) == ["early/0", "early/1"])
        }
    }

    @Test func cancellingAWaitingPublishRemovesItFromTheQueue() async throws {
        // The client never runs: the publish waits for a connection that does not come.
        do {
            let client = MQTT5Client(
                configuration: testConfiguration(port: 1883, id: "cancel"), logger: testLogger("cancel"))
            let driver = client.driver
            // Unstructured so the test can cancel this one publish while it waits for a connection.
            let task = Task {
                try await client.publish(topic: "never", payload: ByteBuffer(), qos: .atLeastOnce)
            }
            try await eventually("the publish is queued") {
                try await client.eventLoop.submit { driver.value.pendingPublishCount }.get() == 1
            }
            task.cancel()
            do {
                _ = try await task.value
                Issue.record("a cancelled publish succeeded")
            } catch let error as MQTT5ClientError {
                #expect(error.code == .cancelled)
            }
            #expect(try await client.eventLoop.submit { driver.value.pendingPublishCount }.get() == 0)
        }
    }
}

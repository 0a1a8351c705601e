import Foundation
import MQTT5TestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import MQTT5

/// The client against a scripted server that sends garbage, breaks the protocol, refuses, disconnects or falls
/// silent: it must answer with DISCONNECT and the Reason Code the specification prescribes, report a typed error,
/// and not crash.
@Suite struct BadServerTests {
    static func connAck(_ properties: MQTTProperties = MQTTProperties()) -> FakeMQTTServer.Reply {
        .packet(.connAck(MQTTConnAckPacket(properties: properties)))
    }

    static func client(
        _ server: FakeMQTTServer,
        configure: (inout MQTT5ClientConfiguration) -> Void = { _ in }
    ) -> MQTT5Client {
        MQTT5Client(
            configuration: testConfiguration(port: server.port, id: "bad-server-test", configure: configure),
            logger: testLogger("bad-server-test"))
    }

    /// Runs `client` until `body` is done, then disconnects it; returns what `run()` threw, if anything.
    static func running(
        _ client: MQTT5Client,
        _ body: () async throws -> Void
    ) async throws -> (any Error)? {
        try await withThrowingTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                do {
                    try await client.run()
                    return nil
                } catch {
                    return error
                }
            }
            do {
                try await body()
            } catch {
                try? await client.disconnect()
                group.cancelAll()
                throw error
            }
            try await client.disconnect()
            return try await group.next()!
        }
    }

    /// The client's DISCONNECT to `server`, and the error the connection ended with, after `replies` follow the
    /// CONNACK.
    static func violation(
        afterConnAck replies: [FakeMQTTServer.Reply],
        connAckProperties: MQTTProperties = MQTTProperties(),
        configure: (inout MQTT5ClientConfiguration) -> Void = { _ in }
    ) async throws -> (disconnect: MQTTDisconnectPacket, error: MQTT5ClientError) {
        let server = try await FakeMQTTServer.start { packet, connection in
            guard case .connect = packet else { return [] }
            // Only the first connection misbehaves; the client reconnects to a well-behaved one.
            return connection == 1 ? [connAck(connAckProperties)] + replies : [connAck()]
        }
        return try await server.serving {
            let client = Self.client(server, configure: configure)
            let events = client.connectionEvents()
            var ended: MQTT5ClientError?
            _ = try await Self.running(client) {
                let event = try await nextEvent(events) {
                    if case .disconnected = $0 { return true }
                    return false
                }
                if case .disconnected(let error) = event { ended = error }
                // It reconnects: a violation is the fault of one connection.
                _ = try await nextEvent(events) {
                    if case .connected = $0 { return true }
                    return false
                }
            }
            let disconnect = try await server.waitForPacket("a DISCONNECT") {
                if case .disconnect = $0 { return true }
                return false
            }
            guard case .disconnect(let packet) = disconnect, let ended else {
                throw HarnessError("no DISCONNECT")
            }
            return (packet, ended)
        }
    }

    @Test func garbageAfterConnAckIsAnsweredWithMalformedPacket() async throws {
        // Packet type 0 is reserved.
        let (disconnect, error) = try await Self.violation(afterConnAck: [.bytes([0x00, 0x00])])
        #expect(disconnect.reasonCode == .malformedPacket)
        #expect(error.code == .protocolViolation)
        #expect(error.reasonCode == .malformedPacket)
        #expect(error.isRetriable)
    }

    @Test func aPublishWithATruncatedBodyIsAMalformedPacket() async throws {
        // PUBLISH QoS 1 whose Remaining Length (3) ends inside the Topic Name's length prefix + name.
        let (disconnect, _) = try await Self.violation(afterConnAck: [.bytes([0x32, 0x03, 0x00, 0x05, 0x61])])
        #expect(disconnect.reasonCode == .malformedPacket)
    }

    @Test func aSecondConnAckIsAProtocolError() async throws {
        let (disconnect, error) = try await Self.violation(afterConnAck: [Self.connAck()])
        #expect(disconnect.reasonCode == .protocolError)
        #expect(error.reasonCode == .protocolError)
    }

    @Test func aTopicAliasAboveTheClientsMaximumIsTopicAliasInvalid() async throws {
        var properties = MQTTProperties()
        properties.topicAlias = 9
        let publish = MQTTPacket.publish(
            MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), properties: properties))
        let (disconnect, error) = try await Self.violation(afterConnAck: [.packet(publish)]) {
            $0.topicAliasMaximum = 4
        }
        #expect(disconnect.reasonCode == .topicAliasInvalid)
        #expect(error.reasonCode == .topicAliasInvalid)
    }

    @Test func aTopicAliasThatWasNeverSetIsAProtocolError() async throws {
        var properties = MQTTProperties()
        properties.topicAlias = 2
        let publish = MQTTPacket.publish(
            MQTTPublishPacket(topicName: "", payload: ByteBuffer(), properties: properties))
        let (disconnect, _) = try await Self.violation(afterConnAck: [.packet(publish)])
        #expect(disconnect.reasonCode == .protocolError)
    }

    @Test func aPacketAboveTheClientsMaximumPacketSizeIsPacketTooLarge() async throws {
        let publish = MQTTPacket.publish(
            MQTTPublishPacket(topicName: "t", payload: ByteBuffer(repeating: 0x61, count: 4000)))
        let (disconnect, error) = try await Self.violation(afterConnAck: [.packet(publish)]) {
            $0.maximumPacketSize = 1024
        }
        #expect(disconnect.reasonCode == .packetTooLarge)
        #expect(error.reasonCode == .packetTooLarge)
    }

    @Test func moreMessagesThanTheReceiveMaximumIsReceiveMaximumExceededWhenStrict() async throws {
        // Three QoS 1 messages for a subscription nobody reads: the client's Receive Maximum is 2.
        let server = try await FakeMQTTServer.start { packet, connection in
            switch packet {
            case .connect:
                return [Self.connAck()]
            case .subscribe(let subscribe):
                let subAck = FakeMQTTServer.Reply.packet(
                    .subAck(MQTTSubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: [.grantedQoS1]))
                )
                guard connection == 1 else { return [subAck] }
                return [subAck]
                    + (1...3).map { id in
                        .packet(
                            .publish(
                                MQTTPublishPacket(
                                    topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce,
                                    packetIdentifier: UInt16(id))))
                    }
            default:
                return []
            }
        }
        try await server.serving {
            let client = Self.client(server) {
                $0.receiveMaximum = 2
                $0.strictReceiveMaximum = true
            }
            let events = client.connectionEvents()
            var ended: MQTT5ClientError?
            _ = try await Self.running(client) {
                let subscription = try await client.subscribe(to: "t", qos: .atLeastOnce)
                if case .disconnected(let error) = try await nextEvent(
                    events,
                    where: {
                        if case .disconnected = $0 { return true }
                        return false
                    })
                {
                    ended = error
                }
                // The subscription outlives the connection: the client subscribes again on the next one.
                _ = try await nextEvent(events) {
                    if case .connected = $0 { return true }
                    return false
                }
                _ = try await server.waitForPacket("a second SUBSCRIBE") { _ in
                    server.received.filter {
                        if case .subscribe = $0 { return true }
                        return false
                    }.count == 2
                }
                // Two messages arrived before the violation: the consumer still gets them.
                #expect(subscription.bufferedMessageCount == 2)
            }
            #expect(ended?.reasonCode == .receiveMaximumExceeded)
            _ = try await server.waitForPacket("DISCONNECT Receive Maximum exceeded") {
                $0 == .disconnect(MQTTDisconnectPacket(reasonCode: .receiveMaximumExceeded))
            }
            // Nothing was acknowledged: nobody read the messages.
            #expect(
                !server.received.contains {
                    if case .pubAck = $0 { return true }
                    return false
                })
        }
    }

    @Test func aServerOverTheReceiveMaximumIsNotReadFromUntilTheConsumerCatchesUp() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            switch packet {
            case .connect:
                return [Self.connAck()]
            case .subscribe(let subscribe):
                return [
                    .packet(
                        .subAck(
                            MQTTSubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: [.grantedQoS1]))
                    )
                ]
                    + (1...3).map { id in
                        .packet(
                            .publish(
                                MQTTPublishPacket(
                                    topicName: "t", payload: ByteBuffer(string: "\(id)"), qos: .atLeastOnce,
                                    packetIdentifier: UInt16(id))))
                    }
            default:
                return []
            }
        }
        try await server.serving {
            let client = Self.client(server) { $0.receiveMaximum = 2 }
            let error = try await Self.running(client) {
                let subscription = try await client.subscribe(to: "t", qos: .atLeastOnce)
                try await eventually("three messages buffered") { subscription.bufferedMessageCount == 3 }
                let driver = client.driver
                #expect(try await client.eventLoop.submit { driver.value.isReadingPaused }.get())
                // Reading one message sends its PUBACK and brings the client back within its maximum.
                let first = try await collect(1, from: subscription)
                #expect(first.map(\.text) == ["1"])
                _ = try await server.waitForPacket("PUBACK 1") { $0 == .pubAck(MQTTPubAckPacket(packetIdentifier: 1)) }
                try await eventually("reading resumed") {
                    try await !client.eventLoop.submit { driver.value.isReadingPaused }.get()
                }
                #expect(try await collect(2, from: subscription).map(\.text) == ["2", "3"])
            }
            #expect(error == nil)
            // No DISCONNECT and no reconnection: the connection stayed up throughout.
            #expect(server.connectionCount == 1)
            _ = try await server.waitForPacket("the client's DISCONNECT") {
                if case .disconnect = $0 { return true }
                return false
            }
            let disconnects = server.received.compactMap { packet -> MQTTReasonCode? in
                if case .disconnect(let disconnect) = packet { return disconnect.reasonCode }
                return nil
            }
            #expect(disconnects == [.normalDisconnection])
        }
    }

    @Test func aPacketOnlyAClientSendsIsAProtocolError() async throws {
        let (disconnect, _) = try await Self.violation(afterConnAck: [.packet(.pingReq)])
        #expect(disconnect.reasonCode == .protocolError)
    }

    @Test func garbageInsteadOfAConnAckIsAnsweredToo() async throws {
        let server = try await FakeMQTTServer.start { packet, connection in
            guard case .connect = packet else { return [] }
            return connection == 1 ? [.bytes([0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])] : [Self.connAck()]
        }
        try await server.serving {
            let client = Self.client(server)
            let events = client.connectionEvents()
            _ = try await Self.running(client) {
                _ = try await nextEvent(events) {
                    if case .connected = $0 { return true }
                    return false
                }
            }
            guard
                case .disconnect(let disconnect) = try await server.waitForPacket(
                    "a DISCONNECT",
                    where: {
                        if case .disconnect = $0 { return true }
                        return false
                    })
            else { return }
            // A Remaining Length of five bytes is not a Variable Byte Integer.
            #expect(disconnect.reasonCode == .malformedPacket)
            #expect(server.connectionCount == 2)
        }
    }

    @Test func aRefusedConnectionWithBadCredentialsStopsTheClient() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            guard case .connect = packet else { return [] }
            var properties = MQTTProperties()
            properties.reasonString = "wrong password"
            return [.packet(.connAck(MQTTConnAckPacket(reasonCode: .badUserNameOrPassword, properties: properties)))]
        }
        try await server.serving {
            let client = Self.client(server) {
                $0.userName = "alice"
                $0.password = ByteBuffer(string: "nope")
            }
            let error = try await withTimeout(.seconds(20), "the end of run()") {
                do {
                    try await client.run()
                    return MQTT5ClientError(.shutDown, "run() returned")
                } catch let error as MQTT5ClientError {
                    return error
                }
            }
            #expect(error.code == .connectionRefused)
            #expect(error.reasonCode == .badUserNameOrPassword)
            #expect(error.reasonString == "wrong password")
            #expect(!error.isRetriable)
            #expect(server.connectionCount == 1)
            guard case .connect(let connect) = server.received.first else {
                Issue.record("no CONNECT")
                return
            }
            #expect(connect.userName == "alice")
            #expect(connect.password == ByteBuffer(string: "nope"))
            // A publish after the end fails at once.
            await #expect(throws: MQTT5ClientError.self) {
                try await client.publish(topic: "t", payload: ByteBuffer())
            }
        }
    }

    @Test func aServerDisconnectIsReportedWithItsReasonCodeStringAndReference() async throws {
        let server = try await FakeMQTTServer.start { packet, connection in
            guard case .connect = packet else { return [] }
            guard connection == 1 else { return [Self.connAck()] }
            var properties = MQTTProperties()
            properties.reasonString = "maintenance"
            properties.serverReference = "other.example:1883"
            return [
                Self.connAck(),
                .packet(.disconnect(MQTTDisconnectPacket(reasonCode: .serverShuttingDown, properties: properties))),
            ]
        }
        try await server.serving {
            let client = Self.client(server)
            let events = client.connectionEvents()
            var ended: MQTT5ClientError?
            _ = try await Self.running(client) {
                if case .disconnected(let error) = try await nextEvent(
                    events,
                    where: {
                        if case .disconnected = $0 { return true }
                        return false
                    })
                {
                    ended = error
                }
                // Server shutting down is retriable: the client comes back.
                _ = try await nextEvent(events) {
                    if case .connected = $0 { return true }
                    return false
                }
            }
            #expect(ended?.code == .serverDisconnected)
            #expect(ended?.reasonCode == .serverShuttingDown)
            #expect(ended?.reasonString == "maintenance")
            #expect(ended?.serverReference == "other.example:1883")
        }
    }

    @Test func sessionTakenOverStopsTheClientInsteadOfReconnecting() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            guard case .connect = packet else { return [] }
            return [
                Self.connAck(), .packet(.disconnect(MQTTDisconnectPacket(reasonCode: .sessionTakenOver))),
            ]
        }
        try await server.serving {
            let client = Self.client(server)
            let error = try await withTimeout(.seconds(20), "the end of run()") {
                do {
                    try await client.run()
                    return MQTT5ClientError(.shutDown, "run() returned")
                } catch let error as MQTT5ClientError {
                    return error
                }
            }
            #expect(error.code == .serverDisconnected)
            #expect(error.reasonCode == .sessionTakenOver)
            #expect(!error.isRetriable)
            // Reconnecting would take the session back from the other connection: one connection only.
            #expect(server.connectionCount == 1)
        }
    }

    @Test func aSilentServerIsTakenForDeadAfterOneAndAHalfKeepAlives() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            // CONNACK with a Server Keep Alive of 1 s; PINGREQ is never answered.
            guard case .connect = packet else { return [] }
            var properties = MQTTProperties()
            properties.serverKeepAlive = 1
            return [Self.connAck(properties)]
        }
        try await server.serving {
            let client = Self.client(server)
            let events = client.connectionEvents()
            var ended: MQTT5ClientError?
            _ = try await Self.running(client) {
                if case .disconnected(let error) = try await nextEvent(
                    events,
                    where: {
                        if case .disconnected = $0 { return true }
                        return false
                    })
                {
                    ended = error
                }
            }
            #expect(ended?.code == .keepAliveTimeout)
            _ = try await server.waitForPacket("PINGREQ") { $0 == .pingReq }
        }
    }

    @Test func anEnhancedAuthenticationExchangeRunsOverTheConnection() async throws {
        let server = try await FakeMQTTServer.start { packet, _ in
            var properties = MQTTProperties()
            properties.authenticationMethod = "TEST-CHALLENGE"
            switch packet {
            case .connect(let connect) where connect.properties.authenticationData == ByteBuffer(string: "hello"):
                properties.authenticationData = ByteBuffer(string: "prove it")
                return [.packet(.auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: properties)))]
            case .auth(let auth) where auth.properties.authenticationData == ByteBuffer(string: "proof for prove it"):
                properties.authenticationData = ByteBuffer(string: "welcome")
                return [.packet(.connAck(MQTTConnAckPacket(properties: properties)))]
            default:
                return [.packet(.connAck(MQTTConnAckPacket(reasonCode: .notAuthorized)))]
            }
        }
        try await server.serving {
            let completed = NIOLockedValueBox<ByteBuffer?>(nil)
            let client = Self.client(server) {
                $0.authenticator = MQTT5ClosureAuthenticator(
                    method: "TEST-CHALLENGE",
                    initialData: { ByteBuffer(string: "hello") },
                    respond: { challenge in ByteBuffer(string: "proof for \(String(buffer: challenge ?? ByteBuffer()))")
                    },
                    completed: { data in completed.withLockedValue { $0 = data } })
            }
            let error = try await Self.running(client) {
                _ = try await withTimeout(.seconds(20), "a connection") { try await client.waitUntilConnected() }
            }
            #expect(error == nil)
            #expect(completed.withLockedValue { $0 } == ByteBuffer(string: "welcome"))
        }
    }
}

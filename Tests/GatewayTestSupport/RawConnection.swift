import NIOCore
import NIOPosix

/// Sends raw bytes to the gateway and returns everything it answers until it closes the connection (or the
/// time limit passes): for requests no well-behaved client would send.
package func rawExchange(port: Int, _ bytes: [UInt8], timeout: TimeAmount = .seconds(5)) async throws -> String {
    String(decoding: try await rawExchangeBytes(port: port, bytes, timeout: timeout), as: UTF8.self)
}

/// ``rawExchange(port:_:timeout:)``, answering the bytes as they came.
package func rawExchangeBytes(port: Int, _ bytes: [UInt8], timeout: TimeAmount = .seconds(5)) async throws -> [UInt8] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try? await outbound.write(ByteBuffer(bytes: bytes))
        var received = ByteBuffer()
        let deadline = NIODeadline.now() + timeout
        do {
            for try await var chunk in inbound {
                received.writeBuffer(&chunk)
                if NIODeadline.now() > deadline { break }
            }
        } catch {
            // A reset after the answer (the client was still sending) ends the exchange.
        }
        return Array(received.readableBytesView)
    }
}

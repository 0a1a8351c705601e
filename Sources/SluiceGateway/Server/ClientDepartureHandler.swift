import NIOCore
import Synchronization

/// Notices when the client stops sending (it closed its side, or the connection dropped) and tells whoever
/// registered. Hummingbird allows half-closed connections, so a client that closes its socket is otherwise only
/// noticed at the next write; a stream that holds broker resources (a consumer in a group) lets them go at once.
final class ClientDepartureHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    private struct State {
        var departed = false
        var actions: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    /// Runs `action` once the client has gone (at once when it already has).
    func onDeparture(_ action: @escaping @Sendable () -> Void) {
        let departed = state.withLock { state -> Bool in
            if !state.departed { state.actions.append(action) }
            return state.departed
        }
        if departed { action() }
    }

    private func depart() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            defer {
                state.departed = true
                state.actions = []
            }
            return state.departed ? [] : state.actions
        }
        for action in actions { action() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { depart() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        depart()
        context.fireChannelInactive()
    }
}

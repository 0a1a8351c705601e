import NIOCore
import Synchronization

/// Notices when the client stops sending (it closed its side, or the connection dropped) and tells whoever
/// registered. Hummingbird allows half-closed connections, so a client that closes its socket is otherwise only
/// noticed at the next write; a stream that holds broker resources (a consumer in a group) lets them go at once.
final class ClientDepartureHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    private struct State {
        var departed = false
        var nextID: UInt64 = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// Runs `action` once the client has gone (at once when it already has).
    func onDeparture(_ action: @escaping @Sendable () -> Void) {
        _ = register(action)
    }

    /// Runs `action` once the client has gone (at once when it already has), unless the returned deregistration
    /// ran first: what one request of a keep-alive connection registers is dropped when the request ends.
    func register(_ action: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let id = state.withLock { state -> UInt64? in
            guard !state.departed else { return nil }
            state.nextID += 1
            state.actions[state.nextID] = action
            return state.nextID
        }
        guard let id else {
            action()
            return {}
        }
        return { [weak self] in _ = self?.state.withLock { $0.actions.removeValue(forKey: id) } }
    }

    private func depart() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            defer {
                state.departed = true
                state.actions = [:]
            }
            return state.departed ? [] : Array(state.actions.values)
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

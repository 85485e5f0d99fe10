import NIOCore

/// Closes a connection when the `IdleStateHandler` before it reports that nothing was read for its timeout: the
/// daemon's local sockets (control) must not be held open forever by a client that connected and went quiet.
final class CloseWhenIdle: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

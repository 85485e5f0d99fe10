import Ferry
import Logging
import NIOCore
import NIOPosix

/// One `[[tunnels]]` entry: a local TCP listener whose connections become streams to a peer's service.
final class TunnelListener: Sendable {
    let settings: DaemonConfig.TunnelSettings
    let dialer: PeerDialer
    let daemon: DaemonContext
    let server: NIOAsyncChannel<StreamRelay.TCPChannel, Never>

    private init(settings: DaemonConfig.TunnelSettings, dialer: PeerDialer, daemon: DaemonContext, server: NIOAsyncChannel<StreamRelay.TCPChannel, Never>) {
        self.settings = settings
        self.dialer = dialer
        self.daemon = daemon
        self.server = server
    }

    /// Binds the local TCP port (so a bind failure stops startup before READY=1).
    static func bind(settings: DaemonConfig.TunnelSettings, dialer: PeerDialer, daemon: DaemonContext) async throws -> TunnelListener {
        let server = try await ServerBootstrap(group: daemon.eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: settings.listen.host, port: Int(settings.listen.port)) { channel in
                channel.eventLoop.makeCompletedFuture { try StreamRelay.wrap(channel) }
            }
        return TunnelListener(settings: settings, dialer: dialer, daemon: daemon, server: server)
    }

    /// The bound address (the real port when configured with port 0).
    var localPort: Int? { server.channel.localAddress?.port }

    /// Accepts until the listener is closed; each TCP connection is relayed in a task of its own.
    func run() async {
        try? await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await tcp in inbound {
                    group.addTask { await self.handle(tcp) }
                }
            }
        }
    }

    /// Stops accepting (established relays finish on their own or when the endpoint closes).
    func close() {
        server.channel.close(promise: nil)
    }

    /// Stops accepting and waits until the listening socket is closed (a reload that removed the tunnel).
    func closeListening() async {
        try? await server.channel.close()
    }

    private func handle(_ tcp: StreamRelay.TCPChannel) async {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let connection = try await dialer.currentConnection()
                let (send, receive) = try await connection.openBidirectionalStream()
                await StreamRelay.relay(send: send, receive: receive, tcp: tcp, metrics: daemon.metrics)
                return
            } catch {
                // One retry covers a cached connection that died since it was last checked.
                if attempt < 2 {
                    await dialer.dropConnection()
                    continue
                }
                daemon.logger.warning("tunnel stream failed", metadata: ["listen": "\(settings.listen)", "error": "\(error)"])
                await StreamRelay.resetTCP(tcp.channel)
                return
            }
        }
    }
}

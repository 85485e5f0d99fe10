import Ferry
import Logging
import NIOCore
import NIOPosix

/// Serves one configured service (`[[services]]`) for the `Router`: every bidirectional stream a peer opens on
/// ALPN `ferry/tcp/<name>` becomes one TCP connection to `forward` (or is echoed back).
final class ServiceHandler: ProtocolHandler {
    let settings: DaemonConfig.ServiceSettings
    let daemon: DaemonContext

    init(settings: DaemonConfig.ServiceSettings, daemon: DaemonContext) {
        self.settings = settings
        self.daemon = daemon
    }

    func accept(_ connection: Connection) async {
        guard await daemon.admit(connection) else { return }
        let number = daemon.registry.register(connection, service: settings.name)
        daemon.metrics.connectionOpened(side: "server")
        daemon.logger.info(
            "connection accepted",
            metadata: ["remote_id": "\(connection.remoteID)", "remote": "\(connection.remoteAddress)", "service": "\(settings.name)"]
        )
        await withDiscardingTaskGroup { group in
            while true {
                let send: SendStream
                let receive: ReceiveStream
                do {
                    (send, receive) = try await connection.acceptBidirectionalStream()
                } catch {
                    break
                }
                group.addTask { await self.serve(send: send, receive: receive) }
            }
        }
        let stats = await connection.stats
        let reason = await connection.closeReason
        daemon.registry.remove(number, finalStats: stats)
        daemon.metrics.connectionClosed(side: "server")
        daemon.logger.info(
            "connection closed",
            metadata: ["remote_id": "\(connection.remoteID)", "service": "\(settings.name)", "reason": "\(reason.map { "\($0)" } ?? "released")"]
        )
    }

    private func serve(send: SendStream, receive: ReceiveStream) async {
        switch settings.kind {
        case .echo:
            await StreamRelay.echo(send: send, receive: receive, metrics: daemon.metrics)
        case .forward(let address):
            let tcp: StreamRelay.TCPChannel
            do {
                tcp = try await StreamRelay.connect(to: address, group: daemon.eventLoopGroup)
            } catch {
                daemon.logger.warning("service connect failed", metadata: ["service": "\(settings.name)", "forward": "\(address)", "error": "\(error)"])
                send.reset(code: StreamRelay.tcpResetCode)
                receive.stop(code: StreamRelay.tcpResetCode)
                return
            }
            await StreamRelay.relay(send: send, receive: receive, tcp: tcp, metrics: daemon.metrics)
        }
    }
}

import Ferry
import Logging
import NIOCore
import NIOPosix

/// Serves one configured service (`[[services]]`) for the `Router`: every bidirectional stream a peer opens on
/// ALPN `ferry/tcp/<name>` becomes one TCP connection to `forward` (or is echoed back).
///
/// The settings are looked up in the daemon's service table for each stream, so a reload that changes
/// `forward` or `type` applies to the next stream. A reload that removes the service withdraws its ALPN
/// (`Router.removeHandler`), so TLS refuses new connections; established ones stay open, streams already
/// relaying finish, and new streams on them are reset. A connection whose handshake was in flight during the
/// removal is closed: by the router (code 0x1, no handler) or, if it reached this handler first, here (403).
final class ServiceHandler: ProtocolHandler {
    let name: String
    let daemon: DaemonContext

    init(name: String, daemon: DaemonContext) {
        self.name = name
        self.daemon = daemon
    }

    func accept(_ connection: Connection) async {
        guard await daemon.admit(connection) else { return }
        guard daemon.service(named: name) != nil else {
            connection.close(code: policyRejectionCode, reason: "service \(name) is no longer offered")
            return
        }
        let number = daemon.registry.register(connection, service: name)
        daemon.metrics.connectionOpened(side: "server")
        daemon.logger.info(
            "connection accepted",
            metadata: ["remote_id": "\(connection.remoteID)", "remote": "\(connection.remoteAddress)", "service": "\(name)"]
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
            metadata: ["remote_id": "\(connection.remoteID)", "service": "\(name)", "reason": "\(reason.map { "\($0)" } ?? "released")"]
        )
    }

    private func serve(send: SendStream, receive: ReceiveStream) async {
        guard let settings = daemon.service(named: name) else {
            send.reset(code: StreamRelay.tcpResetCode)
            receive.stop(code: StreamRelay.tcpResetCode)
            return
        }
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

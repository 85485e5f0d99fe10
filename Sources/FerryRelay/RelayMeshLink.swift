import Ferry
import FerryCrypto
import FerryDaemon
import Logging

/// The outgoing half of a mesh link: dials one configured mesh relay and keeps the link up (docs/relay.md §5).
///
/// Each relay dials every relay in its `mesh` list and says `clientHello` with the mesh flag; the other side
/// accepts only ids in its own `mesh` list, so the mesh is mutually authenticated by key. Over its outgoing link
/// a relay announces its clients (`peersPresent` / `peersAbsent`) and forwards packets for clients homed on the
/// other relay (`meshForward`). Redialed with backoff (0.1 s doubling to 10 s) when it drops.
struct RelayMeshLink: Sendable {
    let relay: RelayAddress
    let endpoint: Endpoint
    let forwarder: RelayForwarder
    let logger: Logger

    func run() async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            if await connectAndServe() { backoff = .milliseconds(100) }
            guard !Task.isCancelled else { return }
            try? await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
            backoff = min(backoff * 2, .seconds(10))
        }
    }

    /// One link's life; true when it came up (so the next dial starts with a short backoff).
    private func connectAndServe() async -> Bool {
        let connection: Connection
        let send: SendStream
        let receive: ReceiveStream
        var decoder = RelayFrameDecoder()
        do {
            connection = try await endpoint.connect(to: relay.endpointAddress, alpn: RelayMessage.alpn)
            (send, receive) = try await connection.openBidirectionalStream()
            var hello: [UInt8] = []
            RelayFrameDecoder.frame(.clientHello(version: RelayMessage.version, isMeshPeer: true, token: []), into: &hello)
            try await send.write(hello)
            while true {
                if let message = try decoder.next() {
                    guard case .serverHello = message else { throw RelayProtocolError.unexpected(message.typeCode) }
                    break
                }
                guard let bytes = try await receive.read(maxLength: 4096) else { throw RelayProtocolError.truncated }
                decoder.append(bytes)
            }
        } catch {
            logger.debug("mesh relay unreachable", metadata: ["relay": "\(relay)", "error": "\(error)"])
            return false
        }
        let outlet = QUICRelayOutlet(peerID: relay.id, connection: connection, queueLimit: forwarder.limits.queuePackets * 4)
        logger.info("mesh link up", metadata: ["relay": "\(relay)"])
        forwarder.meshLinkUp(outlet)
        let leftover = decoder
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await outlet.runWriter(send) }
            group.addTask {
                // Only pongs and "not here" answers come back on an outgoing link; read them so flow control moves.
                var decoder = leftover
                while let bytes = try? await receive.read(maxLength: 65_536) {
                    decoder.append(bytes)
                    while (try? decoder.next()) != nil {}
                }
            }
            _ = await connection.closed
            outlet.finish()
            group.cancelAll()
        }
        forwarder.meshLinkDown(outlet)
        logger.info("mesh link down", metadata: ["relay": "\(relay)"])
        return true
    }
}

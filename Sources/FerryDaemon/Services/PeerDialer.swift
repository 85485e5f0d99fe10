import Ferry
import Logging

/// Keeps one QUIC connection to a peer's service alive for a tunnel, redialing with backoff.
///
/// A connection negotiates one ALPN (RFC 7301), so there is one per (peer, service); every TCP connection the
/// tunnel accepts becomes a stream on it. Dialing is serialised by the actor, so a burst of TCP connections
/// after an outage causes one dial, not one each. Failed dials back off exponentially (250 ms to 30 s).
actor PeerDialer {
    let peer: EndpointAddress
    let service: String
    let daemon: DaemonContext

    private var connection: Connection?
    private var registryNumber: UInt64?
    private var backoff: Duration = .milliseconds(250)
    private var nextAttempt: ContinuousClock.Instant = .now

    init(peer: EndpointAddress, service: String, daemon: DaemonContext) {
        self.peer = peer
        self.service = service
        self.daemon = daemon
    }

    /// The live connection, dialing (after the backoff delay) when there is none.
    func currentConnection() async throws -> Connection {
        if let connection, await connection.closeReason == nil { return connection }
        await dropConnection()
        let wait = nextAttempt - .now
        if wait > .zero { try await Task.sleep(for: wait) }
        guard let endpoint = daemon.dialingEndpoint else { throw ConnectionError.endpointClosed }
        let alpn = DaemonConfig.ServiceSettings.alpn(for: service)
        if !daemon.runtimeRunsHooks, await daemon.engine.beforeConnect(remote: peer, alpn: alpn) == .reject {
            throw TunnelError.rejectedByPolicy(peer: peer.id, service: service)
        }
        let started = ContinuousClock.now
        do {
            let dialed = try await endpoint.connect(to: peer, alpn: alpn)
            daemon.metrics.recordHandshake(duration: .now - started, side: "client")
            guard await daemon.admit(dialed) else {
                throw TunnelError.rejectedByPolicy(peer: peer.id, service: service)
            }
            backoff = .milliseconds(250)
            connection = dialed
            registryNumber = daemon.registry.register(dialed, service: service)
            daemon.metrics.connectionOpened(side: "client")
            daemon.logger.info("tunnel connected", metadata: ["peer": "\(peer)", "service": "\(service)"])
            return dialed
        } catch {
            nextAttempt = .now + backoff
            daemon.logger.warning(
                "tunnel dial failed",
                metadata: ["peer": "\(peer)", "service": "\(service)", "error": "\(error)", "retry_in": "\(backoff)"]
            )
            backoff = min(backoff * 2, .seconds(30))
            throw error
        }
    }

    /// Forgets a connection that closed, folding its counters into the registry.
    func dropConnection() async {
        guard let dropped = connection else { return }
        let number = registryNumber
        connection = nil
        registryNumber = nil
        // Both fields are cleared before the await, so a concurrent caller finds nothing left to drop.
        let stats = await dropped.stats
        if let number {
            daemon.registry.remove(number, finalStats: stats)
            daemon.metrics.connectionClosed(side: "client")
        }
    }

    /// Closes the connection (shutdown).
    func close() async {
        connection?.close(code: 0, reason: "shutting down")
        await dropConnection()
    }
}

/// Why a tunnel could not reach its peer.
enum TunnelError: Error, CustomStringConvertible {
    /// The local hook chain refused the dial or the authenticated connection.
    case rejectedByPolicy(peer: EndpointID, service: String)

    var description: String {
        switch self {
        case .rejectedByPolicy(let peer, let service): "policy refused the tunnel to \(peer.shortDescription)/\(service)"
        }
    }
}

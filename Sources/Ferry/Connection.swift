import FerryTransport
import NIOCore

/// An established QUIC connection to an authenticated peer.
///
/// Handed out only after the TLS handshake completed, so `remoteID` is the proven identity of the peer (mutual
/// TLS, RFC 9001 §4.4) and `alpn` the negotiated protocol. All methods may be called from any task. Releasing
/// the last reference closes the connection with code 0, as quinn does.
public final class Connection: Sendable {
    /// The peer's endpoint id, proven in the TLS handshake.
    public let remoteID: EndpointID
    /// The negotiated application protocol (RFC 7301).
    public let alpn: String
    /// Whether this endpoint dialed (`.client`) or accepted (`.server`).
    public let side: Side
    /// The peer's address when the handshake completed.
    public let remoteAddress: HostPort

    let core: EndpointCore
    let handle: ConnectionHandle

    init(
        core: EndpointCore,
        handle: ConnectionHandle,
        remoteID: EndpointID,
        alpn: String,
        side: Side,
        remoteAddress: HostPort
    ) {
        self.core = core
        self.handle = handle
        self.remoteID = remoteID
        self.alpn = alpn
        self.side = side
        self.remoteAddress = remoteAddress
    }

    deinit {
        let handle = self.handle
        core.driver.sendFromDeinit { $0.connectionReleased(handle) }
    }

    var driver: NIOLoopBound<EndpointDriver> { core.driver }

    // MARK: Streams

    /// Opens a bidirectional stream (RFC 9000 §2.1), waiting while the peer's stream limit is reached.
    ///
    /// The peer learns of the stream when the first bytes (or FIN) arrive, as in every QUIC stack.
    nonisolated(nonsending) public func openBidirectionalStream() async throws(ConnectionError) -> (SendStream, ReceiveStream) {
        let stream = try await openStream(bidirectional: true)
        return (SendStream(connection: self, id: stream), ReceiveStream(connection: self, id: stream))
    }

    /// Opens a unidirectional stream, waiting while the peer's stream limit is reached.
    nonisolated(nonsending) public func openUnidirectionalStream() async throws(ConnectionError) -> SendStream {
        SendStream(connection: self, id: try await openStream(bidirectional: false))
    }

    /// Waits for the peer to open a bidirectional stream.
    nonisolated(nonsending) public func acceptBidirectionalStream() async throws(ConnectionError) -> (SendStream, ReceiveStream) {
        let stream = try await acceptStream(bidirectional: true)
        return (SendStream(connection: self, id: stream), ReceiveStream(connection: self, id: stream))
    }

    /// Waits for the peer to open a unidirectional stream.
    nonisolated(nonsending) public func acceptUnidirectionalStream() async throws(ConnectionError) -> ReceiveStream {
        ReceiveStream(connection: self, id: try await acceptStream(bidirectional: false))
    }

    nonisolated(nonsending) private func openStream(bidirectional: Bool) async throws(ConnectionError) -> StreamID {
        let handle = self.handle
        let token = WaiterToken()
        return try await driver.performCancellable { driver, resumer in
            driver.openStream(handle, bidirectional: bidirectional, token: token, resumer: resumer)
        } onCancel: { driver in
            driver.cancelStreamWaiter(handle, token: token)
        }.get()
    }

    nonisolated(nonsending) private func acceptStream(bidirectional: Bool) async throws(ConnectionError) -> StreamID {
        let handle = self.handle
        let token = WaiterToken()
        return try await driver.performCancellable { driver, resumer in
            driver.acceptStream(handle, bidirectional: bidirectional, token: token, resumer: resumer)
        } onCancel: { driver in
            driver.cancelStreamWaiter(handle, token: token)
        }.get()
    }

    // MARK: Datagrams

    /// Sends an unreliable datagram (RFC 9221); it may be lost and is never retransmitted.
    nonisolated(nonsending) public func sendDatagram(_ bytes: [UInt8]) async throws(DatagramError) {
        let handle = self.handle
        try await driver.compute { $0.sendDatagram(handle, bytes: bytes) }.get()
    }

    /// Waits for the next unreliable datagram from the peer (RFC 9221).
    nonisolated(nonsending) public func receiveDatagram() async throws(ConnectionError) -> [UInt8] {
        let handle = self.handle
        let token = WaiterToken()
        return try await driver.performCancellable { driver, resumer in
            driver.receiveDatagram(handle, token: token, resumer: resumer)
        } onCancel: { driver in
            driver.cancelReceiveDatagram(handle, token: token)
        }.get()
    }

    // MARK: Lifecycle

    /// Closes the connection with an application error code and reason (CONNECTION_CLOSE 0x1d, RFC 9000 §10.2).
    ///
    /// Pending operations fail with `.closed`; the peer sees `code` and `reason`.
    public func close(code: UInt64 = 0, reason: String = "") {
        let handle = self.handle
        driver.send { $0.closeConnection(handle, errorCode: code, reason: reason) }
    }

    /// Waits until the connection has ended and returns why.
    public var closed: ConnectionCloseReason {
        get async {
            let handle = self.handle
            return await driver.perform { driver, resumer in driver.waitClosed(handle, resumer: resumer) }
        }
    }

    /// Why the connection ended, or nil while it is open.
    public var closeReason: ConnectionCloseReason? {
        get async {
            let handle = self.handle
            return await driver.compute { $0.closeReason(handle) }
        }
    }

    /// The connection's paths now (RFC 9000 §9): the selected one first, each with its kind (direct or relayed).
    public var paths: [PathInfo] {
        get async {
            let handle = self.handle
            return await driver.compute { $0.pathSnapshots(handle) }.sorted { $0.isSelected && !$1.isSelected }
        }
    }

    /// For a connection that started on a relay: how long after it was handed out it first sent on a direct path
    /// found by hole punching (docs/nat-traversal.md); nil while it has not (or never started relayed).
    public var timeToDirect: Duration? {
        get async {
            let handle = self.handle
            return await driver.compute { $0.timeToDirect(handle) }
        }
    }

    /// Current counters and path estimates (RTT, congestion window, bytes and packets, RFC 9002).
    public var stats: ConnectionStats {
        get async {
            let handle = self.handle
            return await driver.compute { $0.stats(handle) } ?? ConnectionStats()
        }
    }

    /// The negotiated TLS 1.3 cipher suite, which also protects every QUIC packet after the Initials
    /// (RFC 9001 §5.3); nil once the connection is gone. Interop tests read it to prove what was negotiated.
    public var cipherSuite: CipherSuite? {
        get async {
            let handle = self.handle
            return await driver.compute { $0.transport.connection(handle)?.negotiatedCipherSuite }
        }
    }

    /// This endpoint's address and port as the peer last reported seeing them, or nil before it did.
    ///
    /// QUIC Address Discovery (draft-ietf-quic-address-discovery): behind a NAT this is the public (reflexive)
    /// address. The peer is not a trusted observer, so treat it as a hint. Needs `TransportConfig.addressDiscovery`
    /// to include receiving (the default) and a peer that provides observations.
    public var observedAddress: HostPort? {
        get async {
            let handle = self.handle
            return await driver.compute { $0.connections[handle]?.observedAddress?.hostPort }
        }
    }
}

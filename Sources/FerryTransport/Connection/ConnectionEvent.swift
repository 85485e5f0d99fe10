/// Something that happened on a connection that the application layer must react to.
///
/// Events are queued by the state machine and drained with `TransportEndpoint.pollEvent()`, mirroring
/// quinn-proto's `poll` so the runtime can turn them into async API objects.
public enum ConnectionEvent: Sendable, Equatable {
    /// The TLS handshake completed: the peer's identity and the negotiated ALPN are available (RFC 9001 §4.1.1).
    case handshakeCompleted
    /// The peer opened a stream (RFC 9000 §2.1).
    case streamOpened(StreamID)
    /// A stream has data (or its end) ready to read.
    case streamReadable(StreamID)
    /// A stream that refused writes can take more data.
    case streamWritable(StreamID)
    /// The peer sent STOP_SENDING for a stream this side writes (RFC 9000 §3.5).
    case streamStopped(StreamID, errorCode: UInt64)
    /// The peer abandoned sending on a stream with RESET_STREAM (RFC 9000 §3.2).
    case streamReset(StreamID, errorCode: UInt64)
    /// The peer raised a stream limit, so `openStream` may succeed again (RFC 9000 §4.6).
    case streamsAvailable(bidirectional: Bool)
    /// An unreliable datagram arrived; fetch it with `receiveDatagram()` (RFC 9221).
    case datagramReceived
    /// A path opened, was selected or closed; fetch the changes with `pollPathEvent()` (RFC 9000 §9).
    case pathsChanged
    /// The peer reported a new address for this endpoint in an OBSERVED_ADDRESS frame; also readable as
    /// `TransportConnection.observedAddress` (draft-ietf-quic-address-discovery-00 §4.1).
    case observedAddressChanged(NetworkAddress)
    /// The peer's candidate addresses changed; read them as `TransportConnection.remoteCandidates`
    /// (draft-seemann-quic-nat-traversal-02 §4.6; RFC 8445 §7.3.1.3 for peer-reflexive ones).
    case remoteCandidatesChanged
    /// The connection is closed; no further events follow for it.
    case closed(ConnectionCloseReason)
}

/// Who ended a connection.
public enum CloseInitiator: Sendable, Hashable {
    /// This endpoint.
    case local
    /// The remote endpoint, through a CONNECTION_CLOSE frame.
    case peer
}

/// Why a connection ended (RFC 9000 §10).
///
/// Distinguishes local from peer closes, transport errors (with frame type), application closes, TLS failures
/// (CRYPTO_ERROR, RFC 9001 §4.8), idle timeouts and stateless resets, so callers can report precise causes.
public enum ConnectionCloseReason: Error, Sendable, Equatable {
    /// A transport error (CONNECTION_CLOSE 0x1c, RFC 9000 §19.19) other than a TLS alert.
    case transportError(TransportError, by: CloseInitiator)
    /// The application closed the connection (CONNECTION_CLOSE 0x1d).
    case applicationClosed(errorCode: UInt64, reason: String, by: CloseInitiator)
    /// The TLS handshake failed with `alert` (error code 0x0100 + alert, RFC 9001 §4.8).
    case tlsFailure(alert: UInt8, reason: String, by: CloseInitiator)
    /// Neither side sent anything within the idle timeout (RFC 9000 §10.1).
    case idleTimeout
    /// The peer sent a stateless reset (RFC 9000 §10.3).
    case statelessReset
    /// The server supports none of the versions this client offers (RFC 9000 §6).
    case versionNegotiationFailed
}

/// Why `sendDatagram` refused a datagram (RFC 9221).
public enum DatagramError: Error, Sendable, Equatable {
    /// The peer did not advertise `max_datagram_frame_size`, or the handshake has not told us yet.
    case unsupportedByPeer
    /// The datagram does not fit in one packet or exceeds the peer's limit.
    case tooLarge(maximum: Int)
    /// Too many datagrams are already waiting to be sent.
    case queueFull
    /// The connection is closing or closed.
    case connectionClosed
}

/// Counters and path estimates for one connection, for logs, metrics and hooks.
public struct ConnectionStats: Sendable, Equatable {
    /// The smoothed round-trip time (RFC 9002 §5.3).
    public var smoothedRTT: Duration = .milliseconds(333)
    /// The minimum observed round-trip time (RFC 9002 §5.2).
    public var minRTT: Duration = .zero
    /// The latest RTT sample.
    public var latestRTT: Duration = .zero
    /// The congestion window in bytes (RFC 9002 §7).
    public var congestionWindow: Int = 0
    /// Bytes currently counted as in flight.
    public var bytesInFlight: Int = 0
    /// UDP payload bytes sent and received.
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// QUIC packets sent, received (successfully decrypted) and declared lost.
    public var packetsSent: UInt64 = 0
    public var packetsReceived: UInt64 = 0
    public var packetsLost: UInt64 = 0
    /// Datagrams dropped because they could not be processed (undecryptable, malformed).
    public var packetsDropped: UInt64 = 0
    /// The largest UDP payload currently used on the path.
    public var pathMTU: Int = 1200
    /// 1-RTT key updates this side initiated (RFC 9001 §6.1); interop tests read it to prove an update happened.
    public var keyUpdatesInitiated: Int = 0
    /// 1-RTT key updates the peer initiated and this side followed (RFC 9001 §6.2).
    public var keyUpdatesFollowed: Int = 0

    public init() {}
}

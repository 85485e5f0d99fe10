/// One QUIC connection's state machine (RFC 9000, RFC 9001, RFC 9002), driven by its `TransportEndpoint`.
///
/// The endpoint feeds it datagrams and timeouts and polls it for datagrams to send; the application uses the
/// commands below (streams, datagrams, close). It never reads a clock or touches a socket (design.md). Not
/// thread-safe: the owning event loop serialises every call.
public final class TransportConnection {
    /// Whether this side initiated the connection.
    public let side: Side
    /// The peer's current address.
    public internal(set) var remoteAddress: NetworkAddress
    /// The handle the endpoint knows this connection by.
    public let handle: ConnectionHandle

    let config: TransportConfig
    let context: EndpointContext

    /// Counters and path estimates (RFC 9002 §5, §7).
    public internal(set) var stats = ConnectionStats()

    /// Whether the TLS handshake completed on this side (RFC 9001 §4.1.1).
    public internal(set) var isHandshakeComplete = false

    /// The handshake is confirmed: HANDSHAKE_DONE received (client) or handshake complete (server), RFC 9001 §4.1.2.
    public internal(set) var isHandshakeConfirmed = false

    /// The peer's identity from its certificate, once the handshake completed.
    public var peerIdentity: EndpointID? { isHandshakeComplete ? cachedPeerIdentity : nil }

    /// The negotiated ALPN protocol, once the handshake completed.
    public var negotiatedALPN: [UInt8]? { isHandshakeComplete ? cachedALPN : nil }

    var cachedPeerIdentity: EndpointID?
    var cachedALPN: [UInt8]?

    /// Events waiting for `TransportEndpoint.pollEvent()`.
    var events = EventQueue()

    init(
        side: Side,
        handle: ConnectionHandle,
        remoteAddress: NetworkAddress,
        config: TransportConfig,
        context: EndpointContext
    ) {
        self.side = side
        self.handle = handle
        self.remoteAddress = remoteAddress
        self.config = config
        self.context = context
    }

    /// Queues an unreliable datagram (RFC 9221) for sending.
    ///
    /// Throws when the peer does not accept datagrams, the datagram is too large for the peer's limit or for one
    /// packet, or the send queue is full.
    public func sendDatagram(_ data: [UInt8]) throws(DatagramError) {
        throw .unsupportedByPeer
    }

    /// The oldest received datagram not yet read (RFC 9221), or nil.
    public func receiveDatagram() -> [UInt8]? {
        nil
    }

    /// Closes the connection with an application error code (CONNECTION_CLOSE 0x1d, RFC 9000 §10.2).
    ///
    /// The connection enters the closing state; the peer sees `errorCode` and `reason`. Before the handshake is
    /// confirmed, the close is sent as a transport CONNECTION_CLOSE 0x1c with APPLICATION_ERROR in Initial and
    /// Handshake packets (RFC 9000 §10.2.3).
    public func close(errorCode: UInt64, reason: String, now: Instant) {
    }
}

/// A FIFO of events with an advancing head, so draining does not shift the array each time.
struct EventQueue {
    private var items: [ConnectionEvent] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }

    mutating func append(_ event: ConnectionEvent) {
        items.append(event)
    }

    mutating func popFirst() -> ConnectionEvent? {
        guard head < items.count else { return nil }
        let event = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return event
    }
}

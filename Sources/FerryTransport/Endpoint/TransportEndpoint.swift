/// A QUIC endpoint: routes datagrams to connections, accepts incoming connections, and multiplexes their output.
///
/// The sans-IO counterpart of quinn-proto's `Endpoint` (design.md): the runtime feeds it datagrams and timeouts
/// and polls it for datagrams, events and the next deadline. Not thread-safe; owned by one event loop.
public final class TransportEndpoint {
    let context: EndpointConfigHolder
    var connections: [ConnectionHandle: TransportConnection] = [:]
    var nextHandle: UInt64 = 1

    /// Creates an endpoint; it acts as a server when `config.acceptsIncoming` is true.
    public init(config: EndpointConfig) {
        self.context = EndpointConfigHolder(config: config)
    }

    /// How many connections the endpoint tracks, including closing and draining ones.
    public var connectionCount: Int { connections.count }

    /// Processes one received UDP datagram (RFC 9000 §5.2).
    ///
    /// Routes by destination connection ID; creates a server connection for a valid client Initial in a datagram
    /// of at least 1200 bytes; answers unknown versions with Version Negotiation (RFC 9000 §6); drops anything
    /// else. Bad input never throws: it is dropped and counted.
    public func handle(datagram: consuming [UInt8], from remote: NetworkAddress, ecn: UInt8 = 0, now: Instant) {
    }

    /// Starts a client connection to `remote`, which must prove it holds `expectedPeer`'s key (mutual TLS).
    ///
    /// The first Initial is produced by the next `pollTransmit`. `alpns` are offered in preference order.
    public func connect(
        to remote: NetworkAddress,
        expectedPeer: EndpointID,
        alpns: [[UInt8]],
        now: Instant
    ) throws(TransportError) -> ConnectionHandle {
        throw TransportError(.internalError, reason: "not implemented")
    }

    /// Writes the next datagram to send into `buffer` (at least 65,535 bytes), or returns nil when idle.
    ///
    /// Rotates across connections so one bulk sender does not starve the others.
    public func pollTransmit(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        nil
    }

    /// The earliest instant at which `handleTimeout` must be called, or nil when no timer is armed.
    public func nextTimeout() -> Instant? {
        nil
    }

    /// Fires every timer due at `now`: loss detection, PTO, ACK delay, idle, pacing, closing/draining.
    public func handleTimeout(now: Instant) {
    }

    /// The next application-visible event, with the connection it belongs to.
    public func pollEvent() -> (ConnectionHandle, ConnectionEvent)? {
        nil
    }

    /// The connection behind `handle`, or nil once it has been removed.
    public func connection(_ handle: ConnectionHandle) -> TransportConnection? {
        connections[handle]
    }

    /// Closes every connection with an application error code (RFC 9000 §10.2).
    public func close(errorCode: UInt64, reason: String, now: Instant) {
        for connection in connections.values {
            connection.close(errorCode: errorCode, reason: reason, now: now)
        }
    }
}

typealias EndpointConfigHolder = EndpointContext

/// Application commands on a connection: streams (RFC 9000 §2–3), datagrams (RFC 9221) and close (§10.2).
///
/// Stream commands forward to the `StreamManager`; the resulting frames go out on the next `pollTransmit`.
extension TransportConnection {
    /// Opens a stream; nil when the peer's stream limit is reached (`streamsAvailable` fires once it rises).
    public func openStream(bidirectional: Bool) -> StreamID? {
        markDirty()
        guard isHandshakeComplete, state == .established else { return nil }
        return streams.openStream(bidirectional: bidirectional)
    }

    /// Queues bytes on a stream; returns how many were accepted (0 → wait for `streamWritable`).
    public func write(_ stream: StreamID, _ data: UnsafeRawBufferPointer) throws(StreamError) -> Int {
        markDirty()
        guard state == .established || state == .handshaking else { throw .connectionClosed }
        return try streams.write(stream, data)
    }

    /// Queues bytes from an array; returns how many were accepted.
    public func write(_ stream: StreamID, _ data: [UInt8]) throws(StreamError) -> Int {
        markDirty()
        guard state == .established || state == .handshaking else { throw .connectionClosed }
        return try streams.write(stream, data)
    }

    /// Marks the end of the stream's data (FIN, RFC 9000 §3.1).
    public func finish(_ stream: StreamID) throws(StreamError) {
        markDirty()
        guard state == .established || state == .handshaking else { throw .connectionClosed }
        try streams.finish(stream)
    }

    /// Sets a stream's send priority: higher values are sent first, streams of equal priority share the
    /// connection round-robin (fairly), and the default is 0. RFC 9000 §2.3 leaves prioritisation to endpoints.
    public func setPriority(_ stream: StreamID, _ priority: Int) throws(StreamError) {
        markDirty()
        guard state == .established || state == .handshaking else { throw .connectionClosed }
        try streams.setPriority(stream, priority)
    }

    /// A stream's send priority (0 unless set), or nil if there is no such stream.
    public func priority(of stream: StreamID) -> Int? {
        streams.priority(of: stream)
    }

    /// Reads up to `maxLength` bytes, the end of the stream, or `.blocked` when nothing is ready.
    public func read(_ stream: StreamID, maxLength: Int) throws(StreamError) -> StreamReadResult {
        markDirty()
        let result = try streams.read(stream, maxLength: maxLength)
        drainStreamEvents()
        return result
    }

    /// Abandons sending on a stream with RESET_STREAM (RFC 9000 §3.2).
    public func resetStream(_ stream: StreamID, errorCode: UInt64) throws(StreamError) {
        markDirty()
        try streams.resetStream(stream, errorCode: errorCode)
    }

    /// Asks the peer to stop sending on a stream with STOP_SENDING (RFC 9000 §3.5).
    public func stopSending(_ stream: StreamID, errorCode: UInt64) throws(StreamError) {
        markDirty()
        try streams.stopSending(stream, errorCode: errorCode)
    }

    /// The largest datagram payload `sendDatagram` currently accepts (RFC 9221 §3), or nil if unsupported.
    public var maxDatagramPayloadSize: Int? {
        guard let peerLimit = peerTransportParameters?.maxDatagramFrameSize, peerLimit > 0 else { return nil }
        // Fit one short-header packet: header (1 + CID + 4-byte PN), AEAD tag, frame header (type + length).
        let packetRoom = maxDatagramSize - (1 + destinationConnectionID.count + 4) - 16 - 1 - 2
        let frameRoom = Int(clamping: peerLimit) - 1 - 2
        return max(0, min(packetRoom, frameRoom))
    }

    /// Queues an unreliable datagram (RFC 9221) for sending.
    ///
    /// Throws when the peer does not accept datagrams, the datagram is too large for the peer's limit or for one
    /// packet, or the send queue is full.
    public func sendDatagram(_ data: [UInt8]) throws(DatagramError) {
        markDirty()
        guard state == .established || state == .handshaking else { throw .connectionClosed }
        guard let maximum = maxDatagramPayloadSize else { throw .unsupportedByPeer }
        guard data.count <= maximum else { throw .tooLarge(maximum: maximum) }
        guard outgoingDatagrams.count < config.datagramSendQueueLimit else { throw .queueFull }
        outgoingDatagrams.append(data)
    }

    /// Sets this connection's keep-alive interval (nil: none): a PING goes out when nothing ack-eliciting was sent
    /// for that long (RFC 9000 §10.1.2). The runtime keeps relay connections alive this way, so the NAT mapping
    /// the relay observes does not expire, without changing the endpoint's other connections.
    public func setKeepAliveInterval(_ interval: Duration?) {
        markDirty()
        config.keepAliveInterval = interval
    }

    /// The oldest received datagram not yet read (RFC 9221), or nil.
    public func receiveDatagram() -> [UInt8]? {
        incomingDatagrams.popFirst()
    }

    /// Closes the connection with an application error code (CONNECTION_CLOSE 0x1d, RFC 9000 §10.2).
    ///
    /// The connection enters the closing state; the peer sees `errorCode` and `reason`. Before the handshake is
    /// confirmed, Initial and Handshake packets carry a transport CONNECTION_CLOSE 0x1c with APPLICATION_ERROR
    /// instead (RFC 9000 §10.2.3).
    public func close(errorCode: UInt64, reason: String, now: Instant) {
        markDirty()
        closeByApplication(errorCode: errorCode, reason: reason, now: now)
    }

    /// Whether the application may have anything to send (used by the endpoint's scheduler).
    var hasPendingEvents: Bool { !events.isEmpty }
}

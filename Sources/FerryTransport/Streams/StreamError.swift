/// Why a stream command from the application failed.
///
/// These are local, per-stream conditions (RFC 9000 §3): they never close the connection. Errors caused by the
/// peer's frames are `TransportError`s instead.
public enum StreamError: Error, Sendable, Equatable {
    /// No such stream: never opened, or already closed and forgotten.
    case unknownStream(StreamID)
    /// The stream has no part in that direction (e.g. writing to a peer's unidirectional stream, RFC 9000 §2.1).
    case wrongDirection(StreamID)
    /// `write` or `finish` after `finish`.
    case finished(StreamID)
    /// The peer reset the stream (RESET_STREAM, RFC 9000 §19.4); its data is gone.
    case resetByPeer(StreamID, errorCode: UInt64)
    /// The peer asked us to stop sending (STOP_SENDING, RFC 9000 §19.5); we reset the send side.
    case stoppedByPeer(StreamID, errorCode: UInt64)
    /// We already reset (send side) or stopped (receive side) this direction of the stream.
    case closedLocally(StreamID)
    /// The connection is closed; no stream can be used.
    case connectionClosed
}

/// The outcome of reading from a stream.
///
/// Separates "no data yet" from "no data ever again" without an optional-of-optional.
public enum StreamReadResult: Sendable, Equatable {
    /// In-order bytes (never empty).
    case data([UInt8])
    /// All data up to the final size has been read (RFC 9000 §3.2 "Data Read").
    case finished
    /// Nothing readable now; a `readable` event follows when more arrives.
    case blocked
}

/// Something about streams that the application should learn; core maps these onto `ConnectionEvent`s.
public enum StreamEvent: Sendable, Equatable {
    /// The peer opened this stream (directly or implicitly, RFC 9000 §3.2).
    case opened(StreamID)
    /// New data, the end of the stream, or a reset can be read.
    case readable(StreamID)
    /// A `write` that accepted fewer bytes than offered can now accept more.
    case writable(StreamID)
    /// The peer sent STOP_SENDING; the send side was reset with the same code (RFC 9000 §3.5).
    case stopped(StreamID, errorCode: UInt64)
    /// The peer sent RESET_STREAM (RFC 9000 §3.2).
    case reset(StreamID, errorCode: UInt64)
    /// The peer raised its stream limit after `openStream` returned nil (RFC 9000 §4.6).
    case streamsAvailable(bidirectional: Bool)
}

/// Sending part states (RFC 9000 §3.1, Figure 2).
public enum SendStreamState: Sendable, Equatable {
    /// Created, nothing sent yet.
    case ready
    /// Sending data.
    case send
    /// All data and FIN sent at least once; awaiting acknowledgements.
    case dataSent
    /// Everything acknowledged (terminal).
    case dataReceived
    /// RESET_STREAM sent.
    case resetSent
    /// RESET_STREAM acknowledged (terminal).
    case resetReceived

    /// Whether no further transitions happen.
    public var isTerminal: Bool { self == .dataReceived || self == .resetReceived }
}

/// Receiving part states (RFC 9000 §3.2, Figure 3).
public enum ReceiveStreamState: Sendable, Equatable {
    /// Receiving; final size unknown.
    case receive
    /// FIN received; final size known.
    case sizeKnown
    /// All data up to the final size received.
    case dataReceived
    /// The application read everything (terminal).
    case dataRead
    /// RESET_STREAM received.
    case resetReceived
    /// The application learned of the reset (terminal).
    case resetRead

    /// Whether no further transitions happen.
    public var isTerminal: Bool { self == .dataRead || self == .resetRead }
}

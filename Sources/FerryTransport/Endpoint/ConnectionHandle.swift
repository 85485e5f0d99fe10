/// An opaque reference to one connection of a `TransportEndpoint`.
///
/// The runtime keys its per-connection objects by handle; handles are never reused within one endpoint, so a
/// stale handle simply finds no connection.
public struct ConnectionHandle: Hashable, Sendable, CustomStringConvertible {
    /// The endpoint-unique number behind the handle, useful in logs.
    public let rawValue: UInt64

    init(rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { "conn#\(rawValue)" }
}

/// One UDP datagram the endpoint wants sent, written into the caller's buffer by `pollTransmit`.
///
/// The bytes are `buffer[0..<size]`; the endpoint never allocates a datagram itself (design.md, send path).
public struct Transmit: Sendable, Equatable {
    /// Where to send the datagram.
    public var destination: NetworkAddress
    /// Number of bytes written at the start of the buffer.
    public var size: Int
    /// The ECN codepoint for the IP header (0 = Not-ECT).
    public var ecn: UInt8
    /// Reserved for GSO batches: the size of each segment when `size` spans several datagrams; nil = one datagram.
    public var segmentSize: Int?
    /// The local address to send from (a client's migrated path, RFC 9000 §9.2); nil means the endpoint's socket.
    /// `Ferry`'s runtime has one socket and ignores it (it migrates by rebinding that socket); an embedder of the
    /// sans-IO core with several local addresses, and the simulators that test `migrate(to:from:now:)`, send from it.
    public var source: NetworkAddress?

    public init(
        destination: NetworkAddress, size: Int, ecn: UInt8 = 0, segmentSize: Int? = nil, source: NetworkAddress? = nil
    ) {
        self.destination = destination
        self.size = size
        self.ecn = ecn
        self.segmentSize = segmentSize
        self.source = source
    }
}

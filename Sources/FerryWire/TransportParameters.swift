/// The QUIC transport parameters one endpoint declares to the other (RFC 9000 §7.4, §18; RFC 9221 §3;
/// draft-ietf-quic-address-discovery-00 §3).
///
/// Exchanged inside the TLS handshake (the quic_transport_parameters extension, RFC 9001 §8.2). Every property
/// defaults to the RFC default, so an absent parameter and a default one compare equal.
public struct TransportParameters: Equatable, Sendable {
    /// The Destination Connection ID of the client's first Initial (server only, RFC 9000 §7.3).
    public var originalDestinationConnectionID: ConnectionID?
    /// Idle timeout in milliseconds; 0 disables it (RFC 9000 §10.1).
    public var maxIdleTimeout: UInt64
    /// The stateless reset token for the handshake connection ID (server only, RFC 9000 §10.3).
    public var statelessResetToken: StatelessResetToken?
    /// The largest UDP payload the endpoint accepts; at least 1200 (RFC 9000 §18.2).
    public var maxUDPPayloadSize: UInt64
    /// The initial connection-level flow control limit (RFC 9000 §4.1).
    public var initialMaxData: UInt64
    /// The initial limit for bidirectional streams this endpoint opens.
    public var initialMaxStreamDataBidiLocal: UInt64
    /// The initial limit for bidirectional streams the peer opens.
    public var initialMaxStreamDataBidiRemote: UInt64
    /// The initial limit for unidirectional streams the peer opens.
    public var initialMaxStreamDataUni: UInt64
    /// How many bidirectional streams the peer may open; at most 2^60.
    public var initialMaxStreamsBidi: UInt64
    /// How many unidirectional streams the peer may open; at most 2^60.
    public var initialMaxStreamsUni: UInt64
    /// The exponent scaling ACK Delay fields; at most 20 (RFC 9000 §19.3).
    public var ackDelayExponent: UInt64
    /// The maximum ACK delay in milliseconds; below 2^14 (RFC 9000 §13.2.1).
    public var maxAckDelay: UInt64
    /// Whether the endpoint forbids connection migration (RFC 9000 §9).
    public var disableActiveMigration: Bool
    /// The server's preferred address (server only, RFC 9000 §9.6).
    public var preferredAddress: PreferredAddress?
    /// How many connection IDs the endpoint stores; at least 2 (RFC 9000 §5.1.1).
    public var activeConnectionIDLimit: UInt64
    /// The Source Connection ID of the endpoint's first Initial (RFC 9000 §7.3).
    public var initialSourceConnectionID: ConnectionID?
    /// The Source Connection ID of the server's Retry (server only, RFC 9000 §7.3).
    public var retrySourceConnectionID: ConnectionID?
    /// The largest DATAGRAM frame accepted; nil means DATAGRAM is not supported (RFC 9221 §3).
    public var maxDatagramFrameSize: UInt64?
    /// Whether the endpoint provides and/or wants OBSERVED_ADDRESS frames; nil means it does not support address
    /// discovery (draft-ietf-quic-address-discovery-00 §3).
    public var addressDiscovery: AddressDiscoveryMode?
    /// Whether the endpoint supports the NAT traversal extension, and a server's concurrency limit; nil means it
    /// does not (draft-seemann-quic-nat-traversal-02 §4.5).
    public var natTraversal: NATTraversalParameter?

    /// Creates transport parameters, each defaulting to its RFC 9000 §18.2 default.
    public init(
        originalDestinationConnectionID: ConnectionID? = nil, maxIdleTimeout: UInt64 = 0,
        statelessResetToken: StatelessResetToken? = nil, maxUDPPayloadSize: UInt64 = 65527,
        initialMaxData: UInt64 = 0, initialMaxStreamDataBidiLocal: UInt64 = 0,
        initialMaxStreamDataBidiRemote: UInt64 = 0, initialMaxStreamDataUni: UInt64 = 0,
        initialMaxStreamsBidi: UInt64 = 0, initialMaxStreamsUni: UInt64 = 0, ackDelayExponent: UInt64 = 3,
        maxAckDelay: UInt64 = 25, disableActiveMigration: Bool = false, preferredAddress: PreferredAddress? = nil,
        activeConnectionIDLimit: UInt64 = 2, initialSourceConnectionID: ConnectionID? = nil,
        retrySourceConnectionID: ConnectionID? = nil, maxDatagramFrameSize: UInt64? = nil,
        addressDiscovery: AddressDiscoveryMode? = nil, natTraversal: NATTraversalParameter? = nil
    ) {
        self.originalDestinationConnectionID = originalDestinationConnectionID
        self.maxIdleTimeout = maxIdleTimeout
        self.statelessResetToken = statelessResetToken
        self.maxUDPPayloadSize = maxUDPPayloadSize
        self.initialMaxData = initialMaxData
        self.initialMaxStreamDataBidiLocal = initialMaxStreamDataBidiLocal
        self.initialMaxStreamDataBidiRemote = initialMaxStreamDataBidiRemote
        self.initialMaxStreamDataUni = initialMaxStreamDataUni
        self.initialMaxStreamsBidi = initialMaxStreamsBidi
        self.initialMaxStreamsUni = initialMaxStreamsUni
        self.ackDelayExponent = ackDelayExponent
        self.maxAckDelay = maxAckDelay
        self.disableActiveMigration = disableActiveMigration
        self.preferredAddress = preferredAddress
        self.activeConnectionIDLimit = activeConnectionIDLimit
        self.initialSourceConnectionID = initialSourceConnectionID
        self.retrySourceConnectionID = retrySourceConnectionID
        self.maxDatagramFrameSize = maxDatagramFrameSize
        self.addressDiscovery = addressDiscovery
        self.natTraversal = natTraversal
    }
}

/// Local transport limits and behaviour for every connection of an endpoint.
///
/// The limits are advertised to the peer as transport parameters (RFC 9000 §18.2); the rest shapes how this side
/// sends. Defaults favour bulk throughput on a LAN/WAN while staying within RFC 9000's recommendations.
public struct TransportConfig: Sendable {
    /// How long a connection may stay silent before it is closed (RFC 9000 §10.1). The effective value is the
    /// minimum of both sides' non-zero values. `.zero` disables the local idle timeout.
    public var maxIdleTimeout: Duration = .seconds(30)
    /// The connection-level flow-control window advertised in `initial_max_data` (RFC 9000 §4.1).
    public var initialMaxData: UInt64 = 16 << 20
    /// The per-stream window advertised for bidi-local, bidi-remote and uni streams (RFC 9000 §4.1).
    public var initialMaxStreamData: UInt64 = 4 << 20
    /// Cap for auto-tuning the connection window.
    public var maxConnectionWindow: UInt64 = 64 << 20
    /// Cap for auto-tuning a stream window.
    public var maxStreamWindow: UInt64 = 16 << 20
    /// How many bidirectional streams the peer may have open at once (`initial_max_streams_bidi`, RFC 9000 §4.6).
    public var maxConcurrentBidirectionalStreams: UInt64 = 1024
    /// How many unidirectional streams the peer may have open at once (`initial_max_streams_uni`).
    public var maxConcurrentUnidirectionalStreams: UInt64 = 100
    /// The UDP payload size used once the handshake is done; datagrams carrying Initial packets are padded to at
    /// least 1200 bytes and no larger datagrams are sent before the handshake completes (RFC 9000 §14.1).
    public var maxUDPPayloadSize: Int = 1452
    /// Whether DPLPMTUD probes for datagrams above 1200 bytes, up to `maxUDPPayloadSize` and the peer's
    /// max_udp_payload_size (RFC 9000 §14.3, RFC 8899). When off, datagrams stay at 1200 bytes.
    public var isMTUDiscoveryEnabled: Bool = true
    /// Whether packets are marked ECT(0) while the path passes ECN validation (RFC 9000 §13.4.2).
    public var isECNEnabled: Bool = true
    /// Initiate a 1-RTT key update after this many packets under one key phase (RFC 9001 §6); nil picks a value
    /// safely below the AEAD confidentiality limit (RFC 9001 §6.6). Small values exercise key updates in tests.
    public var keyUpdateInterval: UInt64? = nil
    /// The largest DATAGRAM frame accepted (RFC 9221 §3); nil disables unreliable datagrams.
    public var maxDatagramFrameSize: Int? = 65535
    /// The exponent applied to ACK Delay values this side sends (RFC 9000 §18.2).
    public var ackDelayExponent: UInt8 = 3
    /// The longest this side delays an acknowledgement (RFC 9000 §13.2.1).
    public var maxAckDelay: Duration = .milliseconds(25)
    /// How many connection IDs this side is willing to store from the peer (RFC 9000 §5.1.1).
    public var activeConnectionIDLimit: UInt64 = 4
    /// Whether the peer may migrate to a new local address (RFC 9000 §9); false sends `disable_active_migration`
    /// (RFC 9000 §18.2). A NAT rebinding is followed either way.
    public var allowsActiveMigration: Bool = true
    /// When set, an ack-eliciting PING is sent after this much send inactivity, keeping the connection and NAT
    /// bindings alive (RFC 9000 §10.1.2).
    public var keepAliveInterval: Duration? = nil
    /// Bytes a stream buffers before `write` accepts nothing more.
    public var streamSendBufferLimit: Int = 1 << 20
    /// Makes each path's congestion controller (RFC 9002 §7, RFC 9438): `.cubic` (default), `.newReno`, or an
    /// application's own `CongestionControllerFactory`.
    public var congestionControl: any CongestionControllerFactory = CongestionControlAlgorithm.cubic
    /// How many received datagrams are buffered for the application before new ones are dropped (RFC 9221 §5).
    public var datagramReceiveQueueLimit: Int = 256
    /// How many outgoing datagrams may wait to be sent before `sendDatagram` reports `.queueFull`.
    public var datagramSendQueueLimit: Int = 256

    /// Whether this side reports the peer's address to it and wants its own reported back, with OBSERVED_ADDRESS
    /// frames (draft-ietf-quic-address-discovery-00). Advertising it is safe with any peer: one that does not know
    /// the transport parameter ignores it (RFC 9000 §7.4.2), and frames go only to a peer that asked for them.
    public var addressDiscovery: AddressDiscoveryRole = .both

    /// NAT traversal candidates and punching (draft-seemann-quic-nat-traversal-02): whether the nat_traversal
    /// parameter is advertised (default on; unknown to other stacks, which ignore it, RFC 9000 §7.4.2) and the
    /// probe budget.
    public var natTraversal = NATTraversalConfig()

    /// Server: answer every Initial whose address is not yet validated with a Retry (RFC 9000 §8.1.2). Here as
    /// well as in `AddressValidationConfig` so runtimes that only forward a `TransportConfig` can switch it on.
    public var requiresAddressValidation = false

    /// Creates a configuration with every default.
    public init() {}
}

/// The built-in congestion controllers, `.cubic` and `.newReno`; each is a `CongestionControllerFactory`.
public struct CongestionControlAlgorithm: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case cubic
        case newReno
    }

    let kind: Kind
}

/// This endpoint's part in QUIC Address Discovery (draft-ietf-quic-address-discovery-00 §3).
///
/// Providing means telling the peer which address and port its packets arrive from (it learns nothing it did not
/// send from); receiving means learning this endpoint's own reflexive address, for example behind a NAT.
public enum AddressDiscoveryRole: Sendable, Hashable {
    /// No address_discovery transport parameter; an OBSERVED_ADDRESS from the peer is a PROTOCOL_VIOLATION.
    case disabled
    /// Report the peer's address when it asks (parameter value 0); refuse reports about ourselves.
    case provide
    /// Ask the peer to report our address (value 1); report nothing ourselves.
    case receive
    /// Report and ask (value 2).
    case both

    /// The address_discovery value this role advertises; nil sends no parameter.
    public var transportParameterValue: AddressDiscoveryMode? {
        switch self {
        case .disabled: nil
        case .provide: .provideOnly
        case .receive: .receiveOnly
        case .both: .provideAndReceive
        }
    }

    /// Whether this side sends OBSERVED_ADDRESS frames to a peer that asks for them.
    public var providesObservations: Bool { self == .provide || self == .both }

    /// Whether this side asks for OBSERVED_ADDRESS frames and accepts them.
    public var receivesObservations: Bool { self == .receive || self == .both }
}

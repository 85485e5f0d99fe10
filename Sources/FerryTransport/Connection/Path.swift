/// One network path of a connection (RFC 9000 §9): where we send, whether it is validated, and its counters.
///
/// Every path's RTT estimate, congestion controller and loss count live in the connection's `LossDetection`, in
/// the slot `recoverySlot`; each sent packet records that slot, so acknowledgements and losses reach the path
/// the packet used even after the connection moved on, and falling back to a path finds its state intact
/// (RFC 9000 §9.3.2, §9.4).
struct NetworkPath {
    /// The path's number within its connection; the handshake path is 0.
    let id: UInt64
    /// The peer's address on this path.
    var remoteAddress: NetworkAddress
    /// The local address this path sends from, when the runtime told us (client migration); nil is the
    /// endpoint's default socket.
    var localAddress: NetworkAddress?
    /// Whether the peer's address on this path is validated: until it is, we send at most 3× what we received
    /// on it (RFC 9000 §8.1, §9.3).
    var isRemoteValidated: Bool
    /// Whether a PATH_RESPONSE confirmed the path (RFC 9000 §8.2), or it was the handshake path.
    var isValidated: Bool
    /// The peer connection ID (sequence number) this path sends with (RFC 9000 §9.5).
    var peerConnectionIDSequence: UInt64
    /// The last of our connection IDs the peer used on this path, to notice when it switches (RFC 9000 §9.5).
    var lastLocalConnectionID: ConnectionID?
    /// Path validation in progress, if any.
    var validation: PathValidation?
    /// Bytes received on and sent to this address while it was unvalidated (RFC 9000 §8.1).
    var amplificationReceived: UInt64 = 0
    var amplificationSent: UInt64 = 0
    /// Counters for hooks and metrics.
    var counters = PathCounters()
    /// The largest UDP payload the path carried when it was last selected (RFC 9000 §14); while selected, the
    /// connection's `maxDatagramSize` is live.
    var mtu = MTUDiscovery.baseMTU
    /// The path's slot in `LossDetection` (RTT, congestion controller, losses).
    var recoverySlot: UInt8
    /// Set for a new path that differs from the selected one only in a port (NAT rebinding): it keeps the
    /// selected path's PMTU and ECN state when first selected (RFC 9000 §9.4).
    var isPortOnlyChange = false
    /// A path opened only to probe a NAT traversal candidate (draft-seemann-quic-nat-traversal-02 §4.4). A
    /// server's probes to it are bounded by `maxChallenges` rather than by the anti-amplification limit.
    var isPunchProbe = false
    /// At most this many PATH_CHALLENGEs are sent on the path while it validates; nil is unbounded until the
    /// validation deadline (RFC 9000 §8.2.4).
    var maxChallenges: Int?

    /// How many more bytes the anti-amplification limit allows on this path (RFC 9000 §8.1).
    var amplificationBudget: Int {
        guard !isRemoteValidated, !isPunchProbe else { return .max }
        let budget = amplificationReceived * 3
        return budget > amplificationSent ? Int(clamping: budget - amplificationSent) : 0
    }
}

/// Per-path traffic counters (issue 3 §6: per-path stats).
struct PathCounters {
    var bytesSent: UInt64 = 0
    var bytesReceived: UInt64 = 0
    var datagramsSent: UInt64 = 0
    var datagramsReceived: UInt64 = 0
}

/// An outstanding path validation (RFC 9000 §8.2.1, §8.2.4).
struct PathValidation {
    /// PATH_CHALLENGE payloads sent and not yet answered; any of them validates the path.
    var outstanding: [UInt64] = []
    /// When each outstanding challenge was sent, so a response gives the path's round-trip time.
    var sentAt: [Instant] = []
    /// A PATH_CHALLENGE must be sent (first time, or a retry).
    var isChallengePending = true
    /// When to send the next retry.
    var retryAt: Instant?
    /// When to give up: three PTOs, at least 6 × kInitialRtt (RFC 9000 §8.2.4).
    var deadline: Instant
    /// How many challenges were sent.
    var attempts = 0
    /// The path the connection falls back to when validation fails (RFC 9000 §9.3.2); nil for a probe only.
    var fallbackPathID: UInt64?
}

/// The paths of one connection and the path events not yet polled.
struct PathTable {
    /// Known paths; `activeID` is the selected one.
    var paths: [NetworkPath]
    /// Abandoned paths whose packets are still outstanding: they leave once those are acknowledged or lost, so
    /// their `closed` event carries exact counts (RFC 9002 §6: loss is only known later).
    var draining: [NetworkPath] = []
    var activeID: UInt64 = 0
    var nextID: UInt64 = 1
    /// Path events for `TransportConnection.pollPathEvent()`.
    var events: [TransportPathEvent] = []
    /// PATH_RESPONSE payloads owed on paths other than the selected one, with the address the challenge came
    /// from (RFC 9000 §8.2.2: the response goes out on the path the challenge arrived on).
    var pendingProbeResponses: [(data: UInt64, remote: NetworkAddress)] = []
    /// The source address of the datagram being processed.
    var currentRemote: NetworkAddress?
    /// The Destination Connection ID of the packet being processed.
    var currentLocalConnectionID: ConnectionID?
    /// Whether the packet being processed carried a frame other than PATH_CHALLENGE, PATH_RESPONSE,
    /// NEW_CONNECTION_ID, OBSERVED_ADDRESS and PADDING (RFC 9000 §9.1).
    var currentPacketIsNonProbing = false
    /// Whether the packet being processed had the largest packet number so far (RFC 9000 §9.3).
    var currentPacketIsLargest = false
    /// Where the last datagram `pollTransmit` wrote goes, when it is not the selected path (a probe).
    var probeTarget: (remote: NetworkAddress, local: NetworkAddress?)?
    /// Whether any path has a challenge or response to send; cheap check on the send path.
    var hasProbeWork: Bool {
        !pendingProbeResponses.isEmpty || paths.contains { $0.validation?.isChallengePending ?? false }
    }

    init(remoteAddress: NetworkAddress, isRemoteValidated: Bool) {
        paths = [NetworkPath(
            id: 0, remoteAddress: remoteAddress, localAddress: nil, isRemoteValidated: isRemoteValidated,
            isValidated: true, peerConnectionIDSequence: 0, recoverySlot: 0)]
    }

    func index(of id: UInt64) -> Int? { paths.firstIndex { $0.id == id } }
    func index(remote: NetworkAddress) -> Int? { paths.firstIndex { $0.remoteAddress == remote } }
    var activeIndex: Int { index(of: activeID) ?? 0 }

    /// Adds a path and returns its index.
    mutating func add(
        remote: NetworkAddress, local: NetworkAddress?, isRemoteValidated: Bool, peerConnectionIDSequence: UInt64,
        recoverySlot: UInt8, isPortOnlyChange: Bool
    ) -> Int {
        paths.append(NetworkPath(
            id: nextID, remoteAddress: remote, localAddress: local, isRemoteValidated: isRemoteValidated,
            isValidated: false, peerConnectionIDSequence: peerConnectionIDSequence, recoverySlot: recoverySlot,
            isPortOnlyChange: isPortOnlyChange))
        nextID += 1
        return paths.count - 1
    }
}

/// A snapshot of one path of a connection, for hooks, monitors and tests (RFC 9000 §9).
///
/// Every path's RTT, congestion window and loss count are its own: packets are charged to the path they were
/// sent on (RFC 9000 §9.4).
public struct PathSnapshot: Sendable, Hashable {
    /// The path's number within its connection; the handshake path is 0.
    public var id: UInt64
    /// The local address packets on this path leave from, when known (nil: the endpoint's socket).
    public var localAddress: NetworkAddress?
    /// The peer's address on this path.
    public var remoteAddress: NetworkAddress
    /// Whether the connection currently sends on this path.
    public var isSelected: Bool
    /// Whether the path is validated (RFC 9000 §8.2).
    public var isValidated: Bool
    /// The smoothed and minimum RTT (RFC 9002 §5).
    public var smoothedRTT: Duration
    public var minRTT: Duration
    /// The congestion window in bytes (RFC 9002 §7).
    public var congestionWindow: Int
    /// UDP payload bytes and datagrams sent and received on the path.
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    public var datagramsSent: UInt64
    public var datagramsReceived: UInt64
    /// Packets sent on the path and declared lost (RFC 9002 §6.1).
    public var packetsLost: UInt64
    /// The largest UDP payload used on the path (RFC 9000 §14); for a path that is not selected, the one it had
    /// when it was last selected (1200 if never).
    public var mtu: Int
}

/// A change to a connection's paths, polled with `TransportConnection.pollPathEvent()` (RFC 9000 §9).
public enum TransportPathEvent: Sendable, Hashable {
    /// A new path appeared: the handshake path, a peer's new address, or a local migration.
    case opened(PathSnapshot)
    /// The connection now sends on this path.
    case selected(PathSnapshot)
    /// The path was abandoned (validation failed, or the connection moved on); its last counters.
    case closed(PathSnapshot)
    /// Client: a punching round ended (draft-seemann-quic-nat-traversal-02 §4.4), with a direct path or without.
    case punchRoundEnded(PunchRoundResult)
}

/// How one punching round ended (draft-seemann-quic-nat-traversal-02 §4.4).
public struct PunchRoundResult: Sendable, Hashable {
    /// The round number the PUNCH_ME_NOW frames carried.
    public var round: UInt64
    /// What the round found.
    public var outcome: Outcome

    /// What a round found.
    public enum Outcome: Sendable, Hashable {
        /// A probe path validated and the connection moved to it.
        case direct(pathID: UInt64)
        /// Every probe failed (or none could be opened).
        case failed
    }

    /// Creates a result.
    public init(round: UInt64, outcome: Outcome) {
        self.round = round
        self.outcome = outcome
    }
}

/// Why `TransportConnection.migrate(to:now:)` refused (RFC 9000 §9).
public enum MigrationError: Error, Sendable, Equatable {
    /// Only clients initiate migration (RFC 9000 §9).
    case notClient
    /// Migration needs a confirmed handshake (RFC 9000 §9).
    case handshakeNotConfirmed
    /// The peer sent `disable_active_migration` (RFC 9000 §18.2).
    case disabledByPeer
    /// The peer has given us no unused connection ID to use on the new path (RFC 9000 §9.5).
    case noSpareConnectionID
    /// A previous migration is still being validated.
    case migrationInProgress
    /// The connection is closing or closed.
    case connectionClosed
}

extension Frame {
    /// PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING are probing frames (RFC 9000 §9.1), and so is
    /// OBSERVED_ADDRESS (draft-ietf-quic-address-discovery-00 §4.1).
    var isProbing: Bool {
        switch self {
        case .padding, .pathChallenge, .pathResponse, .newConnectionID, .observedAddress: true
        default: false
        }
    }
}

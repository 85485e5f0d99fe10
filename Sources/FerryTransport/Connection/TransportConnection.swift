/// One QUIC connection's state machine (RFC 9000, RFC 9001, RFC 9002), driven by its `TransportEndpoint`.
///
/// The endpoint feeds it datagrams and timeouts and polls it for datagrams to send; the application uses the
/// commands (streams, datagrams, close) in `TransportConnection+Commands.swift`. It never reads a clock or
/// touches a socket (design.md). Not thread-safe: the owning event loop serialises every call.
///
/// Stored properties are `@exclusivity(unchecked)`, as in `StreamManager` and `StreamRecord`: the class is not
/// `Sendable`, so one thread owns it, and nothing it calls while it holds an access (crypto, congestion
/// control, observers) has a way back into it.
/// The runtime checks the attribute removes ran about 130 times per packet and cost a quarter of the core's
/// instructions per MiB (docs/benchmarks.md, "Instruction counts").
public final class TransportConnection {
    /// Whether this side initiated the connection.
    public let side: Side
    /// The peer's current address.
    @exclusivity(unchecked) public internal(set) var remoteAddress: NetworkAddress
    /// The handle the endpoint knows this connection by.
    public let handle: ConnectionHandle

    /// The endpoint's transport settings; only the keep-alive interval may change per connection.
    @exclusivity(unchecked) var config: TransportConfig
    let context: EndpointContext

    /// Counters and path estimates (RFC 9002 §5, §7).
    public var stats: ConnectionStats {
        var snapshot = counters
        let rtt = recovery.rtt
        snapshot.smoothedRTT = rtt.smoothedRTT
        snapshot.minRTT = rtt.minRTT
        snapshot.latestRTT = rtt.latestRTT
        snapshot.congestionWindow = recovery.congestionController.congestionWindow
        snapshot.bytesInFlight = recovery.congestionController.bytesInFlight
        snapshot.pathMTU = maxDatagramSize
        (snapshot.keyUpdatesInitiated, snapshot.keyUpdatesFollowed) = keyUpdateCounts
        return snapshot
    }

    /// The counters behind `stats`, updated on the hot paths.
    @exclusivity(unchecked) var counters = ConnectionStats()

    /// Whether the TLS handshake completed on this side (RFC 9001 §4.1.1).
    @exclusivity(unchecked) public internal(set) var isHandshakeComplete = false

    /// The handshake is confirmed: HANDSHAKE_DONE received (client) or handshake complete (server), RFC 9001 §4.1.2.
    @exclusivity(unchecked) public internal(set) var isHandshakeConfirmed = false

    /// The peer's identity from its certificate, once the handshake completed.
    public var peerIdentity: EndpointID? { isHandshakeComplete ? handshake.peerIdentity : nil }

    /// The negotiated ALPN protocol, once the handshake completed.
    public var negotiatedALPN: [UInt8]? { isHandshakeComplete ? handshake.negotiatedALPN : nil }

    /// The negotiated TLS cipher suite, which also protects QUIC packets (RFC 9001 §5.3), once the handshake
    /// completed.
    public var negotiatedCipherSuite: CipherSuite? { isHandshakeComplete ? handshake.cipherSuite : nil }

    /// Whether the connection has finished closing or draining and can be forgotten.
    public var isClosed: Bool { state == .closed }

    // MARK: Lifecycle

    enum State: Equatable {
        case handshaking
        case established
        /// We sent CONNECTION_CLOSE and answer further packets with it (RFC 9000 §10.2.1).
        case closing
        /// The peer closed; we stay silent (RFC 9000 §10.2.2).
        case draining
        case closed
    }

    @exclusivity(unchecked) var state = State.handshaking
    /// Why the connection closed, once it did; reported in the `closed` event.
    @exclusivity(unchecked) var closeReason: ConnectionCloseReason?
    /// The CONNECTION_CLOSE this side sends while closing.
    @exclusivity(unchecked) var closeFrame: ConnectionCloseFrame?
    /// A CONNECTION_CLOSE is due (first time, or in answer to a packet received while closing).
    @exclusivity(unchecked) var isClosePending = false
    /// When the closing or draining period ends (3 × PTO, RFC 9000 §10.2).
    @exclusivity(unchecked) var closeDeadline: Instant?
    /// The `closed` event was queued.
    @exclusivity(unchecked) var closeReasonReported = false

    // MARK: Handshake

    /// The TLS session; a server swaps it for a `CompletedHandshake` once the handshake is confirmed.
    @exclusivity(unchecked) var handshake: any HandshakeSession
    /// Initial, Handshake and Application packet-number spaces, indexed by `EncryptionLevel.rawValue`.
    let spaces: [PacketSpace]
    @exclusivity(unchecked) var localTransportParameters: TransportParameters
    @exclusivity(unchecked) var peerTransportParameters: TransportParameters?
    /// Client: the random DCID of the first Initial; server: the DCID the client chose (RFC 9000 §7.3).
    let originalDestinationConnectionID: ConnectionID
    /// The Source Connection ID the peer used in its first long-header packet.
    @exclusivity(unchecked) var peerInitialSourceConnectionID: ConnectionID?
    /// The server sends HANDSHAKE_DONE once (RFC 9000 §19.20); re-armed if lost.
    @exclusivity(unchecked) var isHandshakeDonePending = false
    /// Client: Initial keys are discarded when the first Handshake packet is sent (RFC 9001 §4.9.1).
    @exclusivity(unchecked) var hasSentHandshakePacket = false
    /// Packets that arrived before their keys (RFC 9001 §5.7): bytes and the level they need.
    @exclusivity(unchecked) var bufferedPackets: [(bytes: [UInt8], level: EncryptionLevel)] = []
    static let maxBufferedPackets = 10

    // MARK: Addresses and connection IDs

    /// Server: until the client's address is validated, send at most 3× what was received (RFC 9000 §8.1).
    @exclusivity(unchecked) var isAddressValidated: Bool
    @exclusivity(unchecked) var amplificationBytesReceived: UInt64 = 0
    @exclusivity(unchecked) var amplificationBytesSent: UInt64 = 0
    @exclusivity(unchecked) var localConnectionIDs = LocalConnectionIDs()
    @exclusivity(unchecked) var peerConnectionIDs: PeerConnectionIDs
    /// Routing changes the endpoint must apply.
    @exclusivity(unchecked) var endpointActions: [EndpointAction] = []
    /// Retry and NEW_TOKEN state (TransportConnection+Retry.swift, RFC 9000 §8.1).
    @exclusivity(unchecked) var addressValidation = ConnectionAddressValidation()
    /// PATH_RESPONSE payloads owed to the peer on the selected path (RFC 9000 §8.2.2).
    @exclusivity(unchecked) var pendingPathResponses: [UInt64] = []
    /// The connection's paths (TransportConnection+Paths.swift, RFC 9000 §9).
    @exclusivity(unchecked) var pathTable: PathTable
    /// OBSERVED_ADDRESS state (TransportConnection+AddressDiscovery.swift, draft-ietf-quic-address-discovery).
    @exclusivity(unchecked) var addressDiscovery: AddressDiscovery
    /// Candidates and punching (TransportConnection+NATTraversal.swift, draft-seemann-quic-nat-traversal-02).
    @exclusivity(unchecked) var natTraversal: NATTraversal
    /// Tests: sees the frames of every packet this connection sends, as recorded for recovery.
    @exclusivity(unchecked) var sentFramesObserver: (([SentFrame]) -> Void)?

    // MARK: Timers

    /// The effective idle timeout (RFC 9000 §10.1), nil when disabled.
    @exclusivity(unchecked) var idleTimeout: Duration?
    @exclusivity(unchecked) var idleDeadline: Instant?
    /// Last time an ack-eliciting packet was sent, for keep-alives and the idle timer (RFC 9000 §10.1).
    @exclusivity(unchecked) var lastAckElicitingSentTime: Instant?
    @exclusivity(unchecked) var isFirstAckElicitingSinceReceive = true

    // MARK: Key update (RFC 9001 §6)

    /// The key phase bit of the current 1-RTT keys.
    @exclusivity(unchecked) var keyPhase = false
    /// Read keys of the previous phase, kept briefly for reordered packets.
    @exclusivity(unchecked) var previousRemoteKeys: (any PacketProtector)?
    @exclusivity(unchecked) var previousRemoteKeysDeadline: Instant?
    /// The next phase's read keys, derived ahead so a key update is detected with one trial decryption.
    @exclusivity(unchecked) var nextRemoteKeys: (any PacketProtector)?
    /// The smallest packet number received in the current key phase.
    @exclusivity(unchecked) var currentPhaseFirstPacket: UInt64?

    // MARK: Datagrams (RFC 9221)

    @exclusivity(unchecked) var incomingDatagrams = DatagramQueue()
    @exclusivity(unchecked) var outgoingDatagrams = DatagramQueue()

    // MARK: Endpoint bookkeeping

    /// The endpoint's change collector; commands mark the connection dirty through it.
    weak var scheduler: ConnectionScheduler?
    @exclusivity(unchecked) var isDirty = false
    @exclusivity(unchecked) var isInSendQueue = false
    @exclusivity(unchecked) var isInEventQueue = false
    /// A server connection counted in the endpoint's `incomingHandshakes` until its handshake ends.
    @exclusivity(unchecked) var isCountedIncomingHandshake = false
    /// The deadline last pushed into the endpoint's timer heap.
    /// Set by the endpoint while it fills a GSO batch: a 1-RTT-only datagram at least this long is padded to the
    /// end of its buffer (one segment), so sizes that differ by an ACK frame or a packet-number byte still batch.
    @exclusivity(unchecked) var segmentPaddingThreshold: Int?
    @exclusivity(unchecked) var scheduledTimeout: Instant?
    /// Connection IDs the endpoint routes to this connection.
    @exclusivity(unchecked) var routedConnectionIDs: [ConnectionID] = []
    /// The peer's stateless reset tokens the endpoint indexes for this connection.
    @exclusivity(unchecked) var routedResetTokens: [StatelessResetToken] = []

    /// Tells the endpoint that an application command changed this connection.
    func markDirty() {
        guard !isDirty, let scheduler else { return }
        isDirty = true
        scheduler.dirty.append(self)
    }

    // MARK: Events

    /// Events waiting for `TransportEndpoint.pollEvent()`.
    @exclusivity(unchecked) var events = EventQueue()

    // MARK: Streams and recovery

    /// Streams and flow control (RFC 9000 §2–4).
    let streams: StreamManager
    /// Loss detection, RTT and congestion control (RFC 9002).
    @exclusivity(unchecked) var recovery: LossDetection
    /// Spreads sends over the RTT (RFC 9002 §7.7).
    @exclusivity(unchecked) var pacer: Pacer
    /// When the pacer blocked sending, the instant it allows the next packet.
    @exclusivity(unchecked) var pacingDeadline: Instant?
    /// Frames of the packet being built; reused so recording them does not allocate a fresh array each time.
    @exclusivity(unchecked) var sentFramesScratch: [SentFrame] = []
    /// Frames of packets written but not yet sealed in the current datagram, per level.
    @exclusivity(unchecked) var pendingSentFrames: [[SentFrame]] = [[], [], []]
    /// A keep-alive PING is due (RFC 9000 §10.1.2).
    @exclusivity(unchecked) var isKeepAlivePending = false
    /// Current maximum datagram size we send.
    @exclusivity(unchecked) var maxDatagramSize = 1200
    /// DPLPMTUD on the path (RFC 8899); replaced when the handshake is confirmed (TransportConnection+MTU).
    @exclusivity(unchecked) var mtuDiscovery = MTUDiscovery(maximumMTU: 1200, isEnabled: false)
    /// Key update and AEAD limit bookkeeping (TransportConnection+KeyUpdate, RFC 9001 §6).
    @exclusivity(unchecked) var keyUpdate = KeyUpdateState()

    init(
        side: Side,
        handle: ConnectionHandle,
        remoteAddress: NetworkAddress,
        context: EndpointContext,
        localConnectionID: ConnectionID,
        peerConnectionID: ConnectionID,
        originalDestinationConnectionID: ConnectionID,
        handshake: any HandshakeSession,
        localTransportParameters: TransportParameters,
        initialKeys: PacketKeyPair,
        now: Instant
    ) {
        self.side = side
        self.handle = handle
        self.remoteAddress = remoteAddress
        self.context = context
        self.config = context.config.transport
        self.handshake = handshake
        self.localTransportParameters = localTransportParameters
        self.originalDestinationConnectionID = originalDestinationConnectionID
        self.peerConnectionIDs = PeerConnectionIDs(initial: peerConnectionID)
        self.isAddressValidated = side == .client
        self.pathTable = PathTable(remoteAddress: remoteAddress, isRemoteValidated: side == .client)
        self.addressDiscovery = AddressDiscovery(localRole: context.config.transport.addressDiscovery)
        self.natTraversal = NATTraversal(config: context.config.transport.natTraversal, side: side)
        let maxAckDelay = context.config.transport.maxAckDelay
        self.spaces = [
            PacketSpace(level: .initial, maxAckDelay: maxAckDelay),
            PacketSpace(level: .handshake, maxAckDelay: maxAckDelay),
            PacketSpace(level: .application, maxAckDelay: maxAckDelay),
        ]
        let transport = context.config.transport
        self.streams = StreamManager(side: side, configuration: StreamManager.Configuration(
            initialMaxData: transport.initialMaxData,
            initialMaxStreamDataBidiLocal: transport.initialMaxStreamData,
            initialMaxStreamDataBidiRemote: transport.initialMaxStreamData,
            initialMaxStreamDataUni: transport.initialMaxStreamData,
            maxConcurrentBidirectionalStreams: transport.maxConcurrentBidirectionalStreams,
            maxConcurrentUnidirectionalStreams: transport.maxConcurrentUnidirectionalStreams,
            sendBufferLimit: transport.streamSendBufferLimit,
            maxConnectionWindow: transport.maxConnectionWindow,
            maxStreamWindow: transport.maxStreamWindow))
        let controller = transport.congestionControl.makeCongestionController(maxDatagramSize: 1200)
        self.recovery = LossDetection(side: side, congestionController: controller)
        self.pacer = Pacer(maxDatagramSize: 1200)
        self.recovery.ecn = ECNValidator(isEnabled: transport.isECNEnabled)
        sentFramesScratch.reserveCapacity(64)
        spaces[0].localKeys = initialKeys.local
        spaces[0].remoteKeys = initialKeys.remote
        _ = localConnectionIDs.add(
            localConnectionID, resetToken: context.resetToken(for: localConnectionID), announce: false)
        if side == .server {
            peerInitialSourceConnectionID = peerConnectionID
        }
        idleTimeout = config.maxIdleTimeout > .zero ? config.maxIdleTimeout : nil
        restartIdleTimer(now: now)
    }

    /// The Destination Connection ID for packets we send.
    var destinationConnectionID: ConnectionID { peerConnectionIDs.active.connectionID }

    /// The Source Connection ID for long-header packets we send (our sequence-0 ID).
    var sourceConnectionID: ConnectionID {
        localConnectionIDs.lookup(sequenceNumber: 0)?.connectionID ?? localConnectionIDs.issued.first?.connectionID
            ?? .empty
    }

    func space(_ level: EncryptionLevel) -> PacketSpace { spaces[level.rawValue] }
}

/// Routing-table changes a connection asks its endpoint to make.
enum EndpointAction {
    /// Route packets for this local connection ID to the connection.
    case addConnectionID(ConnectionID)
    /// Stop routing this local connection ID.
    case removeConnectionID(ConnectionID)
    /// A stateless reset token the peer issued; datagrams ending in it close this connection (RFC 9000 §10.3).
    case addResetToken(StatelessResetToken)
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

/// A bounded FIFO of datagrams (RFC 9221 §5: datagrams may be dropped when a queue is full).
struct DatagramQueue {
    private var items: [[UInt8]] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }
    var first: [UInt8]? { head < items.count ? items[head] : nil }

    mutating func append(_ datagram: [UInt8]) {
        items.append(datagram)
    }

    mutating func popFirst() -> [UInt8]? {
        guard head < items.count else { return nil }
        let datagram = items[head]
        items[head] = []
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return datagram
    }
}

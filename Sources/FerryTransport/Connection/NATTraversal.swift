/// One connection's NAT traversal state (draft-seemann-quic-nat-traversal-02 §4): negotiation, the candidates
/// each side has, the advertisement gate, and the client's punching rounds with their probe budget.
///
/// A value type with no connection internals, so its rules are tested on their own; the connection feeds it the
/// peer's transport parameters, runtime commands, received frames, path validations and timeouts, and asks it
/// what to send (TransportConnection+NATTraversal.swift). Time is always a parameter (design.md, sans-IO).
///
/// Invariants:
/// - nothing that names a local address (ADD_ADDRESS, PUNCH_ME_NOW) is queued before `allowAdvertisement()`;
/// - at most `maxRemoteCandidates` remote candidates and `maxLocalCandidates` local ones are kept;
/// - a round probes at most `probesPerRound` paths, each with at most `challengesPerProbe` PATH_CHALLENGEs;
/// - an attempt runs at most `maxRounds` rounds, `roundInterval` apart; a failed attempt, or a fall back from the
///   direct path, schedules the next attempt after `retryInterval`, doubling up to `maxRetryInterval`, so a
///   connection that never gets through spends a bounded number of probes per unit of time.
struct NATTraversal {
    /// A local candidate and the sequence number it is advertised with (ADD_ADDRESS, §4.6.1).
    struct LocalCandidate: Equatable {
        var sequenceNumber: UInt64
        var address: NetworkAddress
        /// Server: an ADD_ADDRESS is owed (not sent yet, or lost while current).
        var isAdvertisementPending: Bool
    }

    /// A probe the client runs in the current round: the remote candidate it checks and the pairs it announced.
    struct Probe: Equatable {
        var remote: NetworkAddress
        /// The path carrying the probe's PATH_CHALLENGEs, once the connection made it.
        var pathID: UInt64?
    }

    let config: NATTraversalConfig
    let side: Side
    /// Whether both sides advertised nat_traversal (§4.5).
    private(set) var isNegotiated = false
    /// The server's concurrency limit (§4.5): PUNCH_ME_NOW frames per round.
    private(set) var peerConcurrencyLimit: UInt64 = 0
    /// Whether the runtime opened the advertisement gate (its afterHandshake hooks accepted the peer).
    private(set) var isAdvertisementAllowed = false

    private(set) var localCandidates: [LocalCandidate] = []
    private var nextLocalSequenceNumber: UInt64 = 0
    /// Server: REMOVE_ADDRESS frames owed.
    private(set) var pendingRemovals: [UInt64] = []
    /// Sequence numbers removed, so a late loss of their ADD_ADDRESS is not repeated.
    private var removedSequenceNumbers: Set<UInt64> = []

    /// The peer's candidates as this side knows them.
    private(set) var remoteCandidates: [RemoteCandidate] = []

    // Client rounds.
    private(set) var round: UInt64 = 0
    /// Rounds started in the current attempt.
    private(set) var roundsStarted = 0
    /// When the last round started, so a restart after a network change keeps `roundInterval` between rounds.
    private var lastRoundStartedAt: Instant?
    /// The pause before the next attempt once this one fails; doubles per failed attempt.
    private var retryDelay: Duration
    private(set) var probes: [Probe] = []
    /// Whether a probe of the running round validated.
    private var roundSucceeded = false
    /// PUNCH_ME_NOW frames owed in the current round: (local candidate sequence, paired remote sequence).
    private(set) var pendingPunches: [(local: UInt64, pairedWith: UInt64)] = []
    /// When the next automatic round may start, after the current one failed.
    private(set) var nextRoundAt: Instant?

    /// Client: the direct path the connection moved to (with its address and the round trip its validation
    /// took, for `DirectPathPreference`), and the relayed path kept as its fallback.
    var directPathID: UInt64?
    var directPath: DirectPathPreference.Candidate?
    var fallbackPathID: UInt64?

    // Server rounds.
    private(set) var peerRound: UInt64?
    private var peerRoundStartedAt: Instant?
    private(set) var punchesThisRound = 0
    /// Server: addresses PUNCH_ME_NOW asked this side to probe, not yet given a path.
    var pendingServerProbes: [NetworkAddress] = []

    init(config: NATTraversalConfig, side: Side) {
        self.config = config
        self.side = side
        self.retryDelay = config.retryInterval
    }

    /// The parameter this side advertises; nil when disabled (§4.5).
    var localParameter: NATTraversalParameter? {
        guard config.isEnabled else { return nil }
        return side == .client ? .client : .server(concurrencyLimit: UInt64(max(1, config.probesPerRound)))
    }

    /// Records the peer's parameter once the handshake delivered it.
    mutating func start(peerParameter: NATTraversalParameter?) {
        guard config.isEnabled, let peerParameter else { return }
        isNegotiated = true
        peerConcurrencyLimit = peerParameter.concurrencyLimit ?? UInt64(config.probesPerRound)
    }

    // MARK: Local candidates and the gate

    /// Opens the advertisement gate: from now on candidates may be sent (privacy: never before).
    mutating func allowAdvertisement() {
        isAdvertisementAllowed = true
    }

    /// Replaces the local candidates: new ones get sequence numbers (and, on a server, an ADD_ADDRESS), gone ones a
    /// REMOVE_ADDRESS if they were advertised. Duplicates and extras beyond `maxLocalCandidates` are dropped.
    mutating func setLocalCandidates(_ addresses: [NetworkAddress]) {
        var wanted: [NetworkAddress] = []
        for address in addresses where !wanted.contains(address) && wanted.count < config.maxLocalCandidates {
            wanted.append(address)
        }
        for candidate in localCandidates where !wanted.contains(candidate.address) {
            removedSequenceNumbers.insert(candidate.sequenceNumber)
            // Only what the peer may have seen needs withdrawing.
            if side == .server && !candidate.isAdvertisementPending { pendingRemovals.append(candidate.sequenceNumber) }
        }
        localCandidates.removeAll { !wanted.contains($0.address) }
        for address in wanted where !localCandidates.contains(where: { $0.address == address }) {
            localCandidates.append(LocalCandidate(
                sequenceNumber: nextLocalSequenceNumber, address: address, isAdvertisementPending: side == .server))
            nextLocalSequenceNumber += 1
        }
    }

    /// Server: the next ADD_ADDRESS owed, only once negotiated and the gate is open.
    func pendingAdvertisement() -> LocalCandidate? {
        guard isNegotiated, isAdvertisementAllowed, side == .server else { return nil }
        return localCandidates.first { $0.isAdvertisementPending }
    }

    mutating func markAdvertised(_ sequenceNumber: UInt64) {
        guard let index = localCandidates.firstIndex(where: { $0.sequenceNumber == sequenceNumber }) else { return }
        localCandidates[index].isAdvertisementPending = false
    }

    /// An ADD_ADDRESS was lost: owed again while the candidate is current (§4.6.1: "unless the address is not
    /// active anymore").
    mutating func onAdvertisementLost(_ sequenceNumber: UInt64) {
        guard let index = localCandidates.firstIndex(where: { $0.sequenceNumber == sequenceNumber }) else { return }
        localCandidates[index].isAdvertisementPending = true
    }

    /// Server: the next REMOVE_ADDRESS owed.
    var pendingRemoval: UInt64? {
        guard isNegotiated, isAdvertisementAllowed else { return nil }
        return pendingRemovals.first
    }

    mutating func markRemovalSent(_ sequenceNumber: UInt64) { pendingRemovals.removeAll { $0 == sequenceNumber } }

    /// A REMOVE_ADDRESS was lost: always repeated (§4.6.3).
    mutating func onRemovalLost(_ sequenceNumber: UInt64) {
        if !pendingRemovals.contains(sequenceNumber) { pendingRemovals.append(sequenceNumber) }
    }

    var hasPendingFrames: Bool {
        pendingAdvertisement() != nil || pendingRemoval != nil || nextPunch() != nil
    }

    // MARK: Remote candidates

    /// Adds a remote candidate; returns whether the list changed. Beyond `maxRemoteCandidates` the extras are
    /// ignored (the draft sets no limit; docs/nat-traversal.md).
    @discardableResult
    mutating func addRemoteCandidate(_ candidate: RemoteCandidate) -> Bool {
        if let index = remoteCandidates.firstIndex(where: { $0.address == candidate.address }) {
            guard remoteCandidates[index].sequenceNumber == nil, candidate.sequenceNumber != nil else { return false }
            remoteCandidates[index] = candidate  // an advertisement names what we had learned peer-reflexively
            return true
        }
        guard remoteCandidates.count < config.maxRemoteCandidates else { return false }
        remoteCandidates.append(candidate)
        return true
    }

    /// REMOVE_ADDRESS: forgets the advertised candidate; returns whether one was known.
    mutating func removeRemoteCandidate(sequenceNumber: UInt64) -> Bool {
        let before = remoteCandidates.count
        remoteCandidates.removeAll { $0.sequenceNumber == sequenceNumber }
        return remoteCandidates.count != before
    }

    func isKnownRemote(_ address: NetworkAddress) -> Bool { remoteCandidates.contains { $0.address == address } }

    // MARK: Client rounds (§4.4)

    /// Whether a round is running (its probes not all settled).
    var isRoundActive: Bool { !probes.isEmpty }

    /// Starts a round at `now`: pairs each remote candidate with the local candidates of its address family
    /// (RFC 8445 §6.1.2.2), keeps the first `min(peer limit, probesPerRound)` remote candidates, owes a
    /// PUNCH_ME_NOW per pair and returns the remote addresses to probe. Refused (nil) before negotiation or the
    /// gate, on a server, with nothing to pair, or once `maxRounds` rounds ran.
    mutating func startRound(now: Instant) -> [NetworkAddress]? {
        guard side == .client, isNegotiated, isAdvertisementAllowed, roundsStarted < config.maxRounds else {
            return nil
        }
        let limit = Int(min(peerConcurrencyLimit, UInt64(config.probesPerRound)))
        var punches: [(local: UInt64, pairedWith: UInt64)] = []
        var targets: [NetworkAddress] = []
        for remote in remoteCandidates where targets.count < limit {
            let locals = localCandidates.filter { $0.address.ipBytes.count == remote.address.ipBytes.count }
            if let sequence = remote.sequenceNumber {
                for local in locals where punches.count < limit { punches.append((local.sequenceNumber, sequence)) }
            }
            targets.append(remote.address)
        }
        guard !targets.isEmpty else { return nil }
        round += 1
        roundsStarted += 1
        lastRoundStartedAt = now
        pendingPunches = punches
        probes = targets.map { Probe(remote: $0, pathID: nil) }
        nextRoundAt = nil
        return targets
    }

    /// The next PUNCH_ME_NOW owed in this round, as a frame.
    func nextPunch() -> (frame: PunchMeNowFrame, local: UInt64)? {
        guard isNegotiated, isAdvertisementAllowed, let first = pendingPunches.first,
            let local = localCandidates.first(where: { $0.sequenceNumber == first.local }),
            let frame = PunchMeNowFrame(
                round: round, pairedWithSequenceNumber: first.pairedWith, ipAddress: local.address.ipBytes,
                port: local.address.port)
        else { return nil }
        return (frame, first.local)
    }

    mutating func markPunchSent() { if !pendingPunches.isEmpty { pendingPunches.removeFirst() } }

    /// A PUNCH_ME_NOW was lost: repeated while its round is current and its local candidate still exists.
    mutating func onPunchLost(round lostRound: UInt64, local: UInt64, pairedWith: UInt64) {
        guard lostRound == round, isRoundActive, localCandidates.contains(where: { $0.sequenceNumber == local })
        else { return }
        pendingPunches.append((local, pairedWith))
    }

    mutating func setProbePath(_ pathID: UInt64, for remote: NetworkAddress) {
        guard let index = probes.firstIndex(where: { $0.remote == remote }) else { return }
        probes[index].pathID = pathID
    }

    /// Adds a probe to the running round (a peer-reflexive candidate); false when the round is full or over.
    mutating func addProbe(_ remote: NetworkAddress) -> Bool {
        guard isRoundActive, probes.count < config.probesPerRound, !probes.contains(where: { $0.remote == remote })
        else { return false }
        probes.append(Probe(remote: remote, pathID: nil))
        return true
    }

    func isProbePath(_ pathID: UInt64) -> Bool { probes.contains { $0.pathID == pathID } }

    /// How a settled probe left its round.
    enum Settlement: Equatable {
        /// Other probes of the round are still running.
        case pending
        /// That was the round's last probe; whether any of its probes validated.
        case roundEnded(succeeded: Bool)
    }

    /// A probe path validated or failed. A round runs until every probe settled, so a better path that validates
    /// after the first can still be chosen (`DirectPathPreference`). A failed round schedules the next round of its
    /// attempt after `roundInterval`, or, when the attempt is spent, the next attempt after the retry delay.
    mutating func settleProbe(pathID: UInt64, succeeded: Bool, now: Instant) -> Settlement {
        probes.removeAll { $0.pathID == pathID }
        if succeeded {
            roundSucceeded = true
            retryDelay = config.retryInterval
        }
        return settle(now: now)
    }

    /// A probe that never got a path (the path table was full, or a path to that address exists) failed.
    mutating func settleUnopenedProbe(remote: NetworkAddress, now: Instant) -> Settlement {
        probes.removeAll { $0.remote == remote && $0.pathID == nil }
        return settle(now: now)
    }

    private mutating func settle(now: Instant) -> Settlement {
        guard probes.isEmpty else { return .pending }
        let succeeded = roundSucceeded
        endRound()
        if !succeeded && directPathID == nil {
            if roundsStarted < config.maxRounds {
                nextRoundAt = now + config.roundInterval
            } else {
                scheduleRetry(now: now)
            }
        }
        return .roundEnded(succeeded: succeeded)
    }

    /// The client fell back from its direct path to the relayed one: it punches again after the retry delay.
    mutating func fellBack(now: Instant) {
        directPathID = nil
        directPath = nil
        fallbackPathID = nil
        roundsStarted = config.maxRounds
        scheduleRetry(now: now)
    }

    /// The network changed (new local candidates, a rebind): a fresh attempt with the base retry delay, its first
    /// round now or, if a round started less than `roundInterval` ago, as soon as that interval has passed.
    /// Returns whether the round may start now.
    mutating func restart(now: Instant) -> Bool {
        roundsStarted = 0
        retryDelay = config.retryInterval
        if let last = lastRoundStartedAt, now < last + config.roundInterval {
            nextRoundAt = last + config.roundInterval
            return false
        }
        nextRoundAt = nil
        return true
    }

    private mutating func scheduleRetry(now: Instant) {
        nextRoundAt = now + retryDelay
        retryDelay = min(retryDelay * 2, max(config.maxRetryInterval, config.retryInterval))
    }

    private mutating func endRound() {
        probes = []
        pendingPunches = []
        roundSucceeded = false
    }

    /// The automatic next round is due; when it opens a new attempt, that attempt's round count starts over.
    mutating func takeDueRound(now: Instant) -> Bool {
        guard let at = nextRoundAt, now >= at else { return false }
        nextRoundAt = nil
        if roundsStarted >= config.maxRounds { roundsStarted = 0 }
        return true
    }

    // MARK: Server side (§4.4)

    /// PUNCH_ME_NOW from the client: returns the address to probe, or nil when the frame is ignored (an old round,
    /// over the concurrency limit, a new round sooner than `roundInterval` after the last, or too many rounds).
    mutating func receivePunch(_ frame: PunchMeNowFrame, now: Instant) -> (address: NetworkAddress, isNewRound: Bool)? {
        guard let address = NetworkAddress(ipBytes: frame.ipAddress, port: frame.port) else { return nil }
        var isNewRound = false
        if let current = peerRound, frame.round <= current {
            guard frame.round == current else { return nil }
        } else {
            if let started = peerRoundStartedAt, now < started + config.roundInterval { return nil }
            peerRound = frame.round
            peerRoundStartedAt = now
            punchesThisRound = 0
            isNewRound = true
        }
        guard punchesThisRound < config.probesPerRound else { return nil }
        punchesThisRound += 1
        return (address, isNewRound)
    }
}

/// The probe budget and limits of NAT traversal (draft-seemann-quic-nat-traversal-02 §4.4, §4.5).
public struct NATTraversalConfig: Sendable, Hashable {
    /// Whether the nat_traversal transport parameter is sent. Peers that do not know it ignore it (RFC 9000
    /// §7.4.2), so the default is on.
    public var isEnabled = true
    /// Paths probed per round; a server advertises it as its concurrency limit (§4.5). At most 3, because a
    /// connection keeps at most four paths and the relayed one stays.
    public var probesPerRound = 3 {
        didSet { probesPerRound = min(max(probesPerRound, 1), 3) }
    }
    /// PATH_CHALLENGEs per probe path before it counts as failed.
    public var challengesPerProbe = 3
    /// Rounds in one attempt (the first by `startPunching`, the rest after `roundInterval` when one fails); a
    /// server accepts a new round at most once per `roundInterval`.
    public var maxRounds = 3
    /// The pause between rounds.
    public var roundInterval: Duration = .seconds(2)
    /// The pause before a new attempt after one failed or the direct path was lost; it doubles with each failed
    /// attempt up to `maxRetryInterval` and returns to this value when a round succeeds or the network changes.
    /// Worst case, a connection that never gets through sends `maxRounds × probesPerRound × challengesPerProbe`
    /// PATH_CHALLENGEs per attempt.
    public var retryInterval: Duration = .seconds(30)
    /// The longest pause between attempts.
    public var maxRetryInterval: Duration = .seconds(600)
    /// Remote and local candidates kept; the peer's extras are ignored.
    public var maxRemoteCandidates = 16
    public var maxLocalCandidates = 16
    /// Consecutive probe timeouts on a punched direct path before the client falls back to the relayed path.
    public var directPathProbeTimeoutLimit = 2

    /// Creates the default configuration.
    public init() {}
}

/// A candidate address of the peer (draft-seemann-quic-nat-traversal-02 §4.1; RFC 8445 §5.1.1, §7.3.1.3).
public struct RemoteCandidate: Sendable, Hashable {
    /// Where the peer may be reached.
    public var address: NetworkAddress
    /// The ADD_ADDRESS sequence number (server candidates, seen by a client); nil for a candidate named in a
    /// PUNCH_ME_NOW or learned peer-reflexively.
    public var sequenceNumber: UInt64?
    /// How this side learned it.
    public var origin: Origin

    /// How a remote candidate was learned.
    public enum Origin: Sendable, Hashable {
        /// An ADD_ADDRESS frame (§4.6.1).
        case advertised
        /// A PUNCH_ME_NOW frame (§4.6.2).
        case punchRequest
        /// A PATH_CHALLENGE from an address no candidate named (RFC 8445 §7.3.1.3).
        case peerReflexive
    }

    /// Creates a candidate.
    public init(address: NetworkAddress, sequenceNumber: UInt64? = nil, origin: Origin) {
        self.address = address
        self.sequenceNumber = sequenceNumber
        self.origin = origin
    }
}

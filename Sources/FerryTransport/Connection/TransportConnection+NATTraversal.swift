/// NAT traversal (draft-seemann-quic-nat-traversal-02 §4): the connection's side of `NATTraversal`.
///
/// The rules live in `NATTraversal`; this file only moves things between it and the connection: frames in and
/// out, probe paths opened through the path table (RFC 9000 §8.2 path validation, also run by the server here,
/// §4.4 of the draft), the client's migration to a validated direct path with the relayed path kept as its
/// fallback (RFC 9000 §9), and the fall back when the direct path stops answering.
extension TransportConnection {
    // MARK: Public API

    /// The peer's candidate addresses: advertised (ADD_ADDRESS, at a client), named in PUNCH_ME_NOW (at a server),
    /// or learned peer-reflexively (RFC 8445 §7.3.1.3). Changes raise `ConnectionEvent.remoteCandidatesChanged`.
    public var remoteCandidates: [RemoteCandidate] { natTraversal.remoteCandidates }

    /// The local candidates the runtime set.
    public var localCandidates: [NetworkAddress] { natTraversal.localCandidates.map(\.address) }

    /// Whether both sides advertised nat_traversal (draft-seemann-quic-nat-traversal-02 §4.5).
    public var isNATTraversalNegotiated: Bool { natTraversal.isNegotiated }

    /// Whether the connection currently sends on a direct path reached by punching (the relayed one is fallback).
    public var isOnPunchedDirectPath: Bool { natTraversal.directPathID == pathTable.activeID }

    /// Sets this side's candidate addresses (interface addresses, reflexive addresses from address discovery;
    /// the runtime decides). A server advertises new ones with ADD_ADDRESS and withdraws gone ones with
    /// REMOVE_ADDRESS (§4.2); a client offers them in PUNCH_ME_NOW (§4.4). Nothing is sent before
    /// `allowCandidateAdvertisement()`.
    public func setLocalCandidates(_ addresses: [NetworkAddress]) {
        natTraversal.setLocalCandidates(addresses)
        markDirty()
    }

    /// Opens the privacy gate: candidates may be sent from now on. The runtime calls it only after its
    /// afterHandshake hooks accepted the peer, and never in relay-only mode; until then no ADD_ADDRESS or
    /// PUNCH_ME_NOW leaves this connection (docs/nat-traversal.md, Privacy).
    public func allowCandidateAdvertisement() {
        natTraversal.allowAdvertisement()
        markDirty()
    }

    /// Client: starts a punching round (§4.4): a PUNCH_ME_NOW per candidate pair over the current (relayed) path,
    /// and PATH_CHALLENGE probes to the server's candidates on new paths. The first validated one becomes the
    /// selected path, the relayed path its fallback. A failed round is followed by another after
    /// `NATTraversalConfig.roundInterval`, up to `maxRounds` per attempt; a failed attempt, or losing the direct
    /// path, by a new attempt after `retryInterval` (backing off). Each round's end is a
    /// `TransportPathEvent.punchRoundEnded`.
    public func startPunching(now: Instant) throws(PunchingError) {
        try checkPunchingAllowed()
        guard !natTraversal.isRoundActive else { throw .roundInProgress }
        guard natTraversal.roundsStarted < natTraversal.config.maxRounds else { throw .roundsExhausted }
        guard startPunchingRound(now: now) else { throw .noCandidates }
    }

    /// Client: the network changed (new local candidates, a new socket): starts a fresh attempt with the full
    /// round budget and the base retry delay, unless the connection already sends on a direct path or a round
    /// runs. Rounds stay at least `roundInterval` apart, so repeated changes cannot raise the probe rate; a
    /// restart within that interval of the last round schedules the round for when the interval ends.
    public func restartPunching(now: Instant) throws(PunchingError) {
        try checkPunchingAllowed()
        guard !isOnPunchedDirectPath, !natTraversal.isRoundActive else { return }
        guard natTraversal.restart(now: now) else {
            markDirty()
            return
        }
        guard startPunchingRound(now: now) else { throw .noCandidates }
    }

    private func checkPunchingAllowed() throws(PunchingError) {
        guard side == .client else { throw .notClient }
        guard state == .established else { throw .connectionClosed }
        guard isHandshakeConfirmed else { throw .handshakeNotConfirmed }
        guard natTraversal.isNegotiated else { throw .notNegotiated }
        guard natTraversal.isAdvertisementAllowed else { throw .advertisementNotAllowed }
        guard !(peerTransportParameters?.disableActiveMigration ?? false) else { throw .migrationDisabledByPeer }
    }

    // MARK: Connection hooks

    /// The peer's transport parameters arrived (§4.5).
    func startNATTraversal(peerParameter: NATTraversalParameter?) {
        natTraversal.start(peerParameter: peerParameter)
    }

    /// ADD_ADDRESS, REMOVE_ADDRESS and PUNCH_ME_NOW from the peer (§4.6).
    func handleNATTraversalFrame(_ frame: Frame, now: Instant) throws(TransportError) {
        guard natTraversal.isNegotiated else {
            throw TransportError(
                .protocolViolation, frameType: frame.frameType, reason: "NAT traversal frame without nat_traversal")
        }
        switch frame {
        case .addAddress(let add):
            guard side == .client else {
                throw TransportError(.protocolViolation, frameType: add.frameType, reason: "ADD_ADDRESS from a client")
            }
            guard let address = NetworkAddress(ipBytes: add.ipAddress, port: add.port) else { return }
            if natTraversal.addRemoteCandidate(
                RemoteCandidate(address: address, sequenceNumber: add.sequenceNumber, origin: .advertised))
            {
                events.append(.remoteCandidatesChanged)
            }
        case .removeAddress(let sequenceNumber):
            guard side == .client else {
                throw TransportError(
                    .protocolViolation, frameType: FrameType.removeAddress, reason: "REMOVE_ADDRESS from a client")
            }
            if natTraversal.removeRemoteCandidate(sequenceNumber: sequenceNumber) {
                events.append(.remoteCandidatesChanged)
            }
        case .punchMeNow(let punch):
            guard side == .server else {
                throw TransportError(.protocolViolation, frameType: punch.frameType, reason: "PUNCH_ME_NOW from a server")
            }
            guard isHandshakeConfirmed, let (address, isNewRound) = natTraversal.receivePunch(punch, now: now) else {
                return
            }
            if isNewRound {
                // A new round cancels the probes of the previous one (§4.4).
                for path in pathTable.paths where path.isPunchProbe && !path.isValidated { closePath(path.id) }
            }
            if natTraversal.addRemoteCandidate(RemoteCandidate(address: address, origin: .punchRequest)) {
                events.append(.remoteCandidatesChanged)
            }
            // Server-side path validation toward the address named (§4.4). A path left over from an earlier
            // direct path is probed afresh too: its NAT mappings may have expired while the connection was relayed,
            // and only this side's own outbound probe opens its NAT for the client's (RFC 4787 §5).
            if let index = pathTable.index(remote: address) {
                let id = pathTable.paths[index].id
                guard id != pathTable.activeID else { return }
                closePath(id)
            }
            _ = openProbePath(to: address, now: now)
        default:
            return
        }
    }

    /// Whether NAT traversal frames wait to be sent. Asked for every packet: the two flags are read first, as
    /// fields, because calling into `natTraversal` copies the whole struct (its arrays retained) per call.
    var hasPendingNATTraversalFrames: Bool {
        natTraversal.isNegotiated && natTraversal.isAdvertisementAllowed && natTraversal.hasPendingFrames
    }

    /// Writes the ADD_ADDRESS, REMOVE_ADDRESS and PUNCH_ME_NOW frames owed, on the selected path; returns whether
    /// it wrote any.
    func writeNATTraversalFrames(into writer: inout ByteWriter, sentFrames: inout [SentFrame]) -> Bool {
        var wrote = false
        while let candidate = natTraversal.pendingAdvertisement() {
            guard let frame = AddAddressFrame(
                sequenceNumber: candidate.sequenceNumber, ipAddress: candidate.address.ipBytes,
                port: candidate.address.port), frame.encodedLength <= writer.remaining
            else { break }
            frame.encode(into: &writer)
            sentFrames.append(.addAddress(sequenceNumber: candidate.sequenceNumber))
            natTraversal.markAdvertised(candidate.sequenceNumber)
            wrote = true
        }
        while let sequenceNumber = natTraversal.pendingRemoval {
            let frame = Frame.removeAddress(sequenceNumber: sequenceNumber)
            guard frame.encodedLength <= writer.remaining else { break }
            frame.encode(into: &writer)
            sentFrames.append(.removeAddress(sequenceNumber: sequenceNumber))
            natTraversal.markRemovalSent(sequenceNumber)
            wrote = true
        }
        while let (frame, local) = natTraversal.nextPunch(), frame.encodedLength <= writer.remaining {
            frame.encode(into: &writer)
            sentFrames.append(.punchMeNow(round: frame.round, localSequence: local, pairedWith: frame.pairedWithSequenceNumber))
            natTraversal.markPunchSent()
            wrote = true
        }
        return wrote
    }

    /// A packet carrying one of these frames was lost (§4.6: retransmitted while still current).
    func onNATTraversalFrameLost(_ frame: SentFrame) {
        switch frame {
        case .addAddress(let sequenceNumber): natTraversal.onAdvertisementLost(sequenceNumber)
        case .removeAddress(let sequenceNumber): natTraversal.onRemovalLost(sequenceNumber)
        case .punchMeNow(let round, let local, let pairedWith):
            natTraversal.onPunchLost(round: round, local: local, pairedWith: pairedWith)
        default: return
        }
        markDirty()
    }

    /// A PATH_CHALLENGE came from `remote`: an address no candidate named and no path uses is a peer-reflexive
    /// candidate (RFC 8445 §7.3.1.3); a client running a round probes it too.
    func learnPeerReflexiveCandidate(_ remote: NetworkAddress, now: Instant) {
        guard natTraversal.isNegotiated, pathTable.index(remote: remote) == nil, !natTraversal.isKnownRemote(remote)
        else { return }
        guard natTraversal.addRemoteCandidate(RemoteCandidate(address: remote, origin: .peerReflexive)) else { return }
        events.append(.remoteCandidatesChanged)
        if side == .client, natTraversal.addProbe(remote), let id = openProbePath(to: remote, now: now) {
            natTraversal.setProbePath(id, for: remote)
        }
    }

    /// Whether a client accepts a datagram from an address that is not one of its paths: only while a punching
    /// round runs, so the server's probes from an unadvertised (peer-reflexive) address get an answer.
    var acceptsUnknownServerAddresses: Bool { natTraversal.isRoundActive }

    /// A path passed validation. A client's first validated probe path becomes the selected path at once, with
    /// the path it leaves kept as the fallback (RFC 9000 §9); a later one of the same round replaces it only when
    /// `DirectPathPreference` says so, and the path not chosen is closed. The round ends when every probe settled.
    func natTraversalPathValidated(_ id: UInt64, rtt: Duration?, now: Instant) {
        guard side == .client, natTraversal.isProbePath(id), let index = pathTable.index(of: id) else { return }
        let round = natTraversal.round
        let candidate = DirectPathPreference.Candidate(address: pathTable.paths[index].remoteAddress, rtt: rtt)
        let settlement = natTraversal.settleProbe(pathID: id, succeeded: true, now: now)
        if let current = natTraversal.directPathID, current == pathTable.activeID,
            let currentPath = natTraversal.directPath
        {
            if DirectPathPreference.shouldSwitch(from: currentPath, to: candidate) {
                natTraversal.directPathID = id
                natTraversal.directPath = candidate
                switchPath(to: index, now: now)
                closePath(current)
            } else {
                closePath(id)
            }
        } else {
            if natTraversal.fallbackPathID == nil { natTraversal.fallbackPathID = pathTable.activeID }
            natTraversal.directPathID = id
            natTraversal.directPath = candidate
            switchPath(to: index, now: now)
        }
        reportRoundEnd(settlement, round: round)
    }

    private func reportRoundEnd(_ settlement: NATTraversal.Settlement, round: UInt64) {
        guard case .roundEnded(let succeeded) = settlement else { return }
        let outcome: PunchRoundResult.Outcome =
            if succeeded, let direct = natTraversal.directPathID { .direct(pathID: direct) } else { .failed }
        queuePathEvent(.punchRoundEnded(PunchRoundResult(round: round, outcome: outcome)))
    }

    /// A probe path failed validation; a round with no probes left may schedule the next one.
    func natTraversalPathFailed(_ id: UInt64, now: Instant) {
        guard side == .client, natTraversal.isProbePath(id) else { return }
        settleFailedProbe(pathID: id, now: now)
    }

    func settleFailedProbe(pathID: UInt64, now: Instant) {
        let round = natTraversal.round
        reportRoundEnd(natTraversal.settleProbe(pathID: pathID, succeeded: false, now: now), round: round)
    }

    /// A probe timeout fired: after `directPathProbeTimeoutLimit` in a row on the punched direct path, the client
    /// returns to the relayed path and sends everything outstanding again there (RFC 9000 §9.3.2 fallback, by
    /// analogy), and punches again after the retry delay.
    func natTraversalProbeTimedOut(now: Instant) {
        guard side == .client, let direct = natTraversal.directPathID, direct == pathTable.activeID,
            let fallback = natTraversal.fallbackPathID, let fallbackIndex = pathTable.index(of: fallback),
            recovery.ptoCount >= natTraversal.config.directPathProbeTimeoutLimit
        else { return }
        let outstanding = recovery.oldestOutstandingFrames(in: .application, packetLimit: .max)
        natTraversal.fellBack(now: now)
        switchPath(to: fallbackIndex, now: now)
        for frame in outstanding {
            switch frame {
            case .crypto(_, let offset, let length): space(.application).cryptoSend.onLost(offset: offset, length: length)
            case .addAddress, .removeAddress, .punchMeNow: onNATTraversalFrameLost(frame)
            default: streams.onLost(frame)
            }
        }
        recovery.ptoCount = 0
        recovery.rearmTimer(now: now)
        closePath(direct)
        markDirty()
    }

    /// The path a punched connection falls back to; eviction keeps it.
    var natTraversalFallbackPathID: UInt64? { natTraversal.fallbackPathID }

    /// When the next automatic round is due.
    func nextNATTraversalTimeout() -> Instant? { natTraversal.nextRoundAt }

    func handleNATTraversalTimeout(now: Instant) {
        guard natTraversal.takeDueRound(now: now), state == .established, !isOnPunchedDirectPath else { return }
        _ = startPunchingRound(now: now)
    }

    // MARK: Probe paths

    private func startPunchingRound(now: Instant) -> Bool {
        guard let targets = natTraversal.startRound(now: now) else { return false }
        for remote in targets {
            if pathTable.index(remote: remote) == nil, let id = openProbePath(to: remote, now: now) {
                natTraversal.setProbePath(id, for: remote)
            } else {
                let round = natTraversal.round
                reportRoundEnd(natTraversal.settleUnopenedProbe(remote: remote, now: now), round: round)
            }
        }
        markDirty()
        return true
    }

    /// Opens a path to `remote` that is only probed (PATH_CHALLENGE, RFC 9000 §8.2.1) until it validates, with
    /// a budget of `challengesPerProbe` challenges; returns its id.
    private func openProbePath(to remote: NetworkAddress, now: Instant) -> UInt64? {
        evictPathIfNeeded()
        guard pathTable.paths.count < 4 else { return nil }
        // A fresh connection ID of the peer's when one is spare, so the paths are not linkable (RFC 9000 §9.5).
        let sequence = peerConnectionIDs.parkSpare()?.sequenceNumber ?? peerConnectionIDs.active.sequenceNumber
        let index = addPath(
            remote: remote, local: nil, isRemoteValidated: side == .client, peerConnectionIDSequence: sequence)
        let attempts = max(1, natTraversal.config.challengesPerProbe)
        pathTable.paths[index].isPunchProbe = true
        pathTable.paths[index].maxChallenges = attempts
        pathTable.paths[index].validation = PathValidation(
            deadline: now + RTTEstimator().probeTimeoutBase * attempts, fallbackPathID: nil)
        queuePathEvent(.opened(snapshot(pathTable.paths[index])))
        markDirty()
        return pathTable.paths[index].id
    }
}

/// Why `TransportConnection.startPunching(now:)` refused (draft-seemann-quic-nat-traversal-02 §4.4).
public enum PunchingError: Error, Sendable, Equatable {
    /// Only the client starts rounds (§4.4).
    case notClient
    /// The connection is not established, or closing.
    case connectionClosed
    /// Migration needs a confirmed handshake (RFC 9000 §9).
    case handshakeNotConfirmed
    /// The peer did not advertise nat_traversal, or it is disabled here (§4.5).
    case notNegotiated
    /// `allowCandidateAdvertisement()` was not called: no candidate may be sent.
    case advertisementNotAllowed
    /// The peer sent disable_active_migration (RFC 9000 §18.2).
    case migrationDisabledByPeer
    /// A round is running.
    case roundInProgress
    /// The current attempt's `NATTraversalConfig.maxRounds` rounds already ran; the next attempt is scheduled.
    case roundsExhausted
    /// No remote candidate to probe.
    case noCandidates
}

/// Paths and connection migration (RFC 9000 §8.2, §9): path validation with PATH_CHALLENGE/PATH_RESPONSE, the
/// peer's address changes (NAT rebinding or its migration), the client's own migration to a new local address,
/// per-path anti-amplification limits and counters, and the path events hooks observe.
///
/// The selected path's state mirrors into the connection's existing fields (`remoteAddress`,
/// `isAddressValidated`, the amplification counters), so the send and receive paths need no per-path lookups;
/// switching paths saves those into the old `NetworkPath` and loads the new one's. Each path's RTT estimate,
/// congestion controller and loss count stay in its own `LossDetection` slot, which every sent packet names, so
/// packets still in flight on a path the connection left are charged to that path (RFC 9000 §9.4).
extension TransportConnection {
    // MARK: Public API

    /// Snapshots of the connection's paths; exactly one is selected (RFC 9000 §9).
    public var paths: [PathSnapshot] {
        pathTable.paths.map(snapshot)
    }

    /// The id of the path the connection sends on.
    public var selectedPathID: UInt64 { pathTable.activeID }

    /// The next path change, after a `ConnectionEvent.pathsChanged` (RFC 9000 §9).
    ///
    /// The handshake path (id 0) exists from the start and is not reported as opened.
    public func pollPathEvent() -> TransportPathEvent? {
        guard !pathTable.events.isEmpty else { return nil }
        return pathTable.events.removeFirst()
    }

    /// Client: moves the connection to a new local address (RFC 9000 §9.2), for example after the runtime
    /// opened a new socket.
    ///
    /// The new path sends with an unused connection ID of the peer (RFC 9000 §9.5), starts with a fresh
    /// congestion controller and RTT estimate unless only the port changed (RFC 9000 §9.4), and is validated with
    /// PATH_CHALLENGE (RFC 9000 §8.2). Until validation succeeds the old path and its connection ID are kept;
    /// if it fails, the connection falls back to the old path (RFC 9000 §9.3.2).
    ///
    /// - Parameters:
    ///   - localAddress: the new local address, when known (the runtime sends from it).
    ///   - previousLocalAddress: the old local address, when the current path does not know it yet; it decides
    ///     whether only the port changed.
    public func migrate(
        to localAddress: NetworkAddress?, from previousLocalAddress: NetworkAddress? = nil, now: Instant
    ) throws(MigrationError) {
        guard side == .client else { throw .notClient }
        guard state == .established || state == .handshaking else { throw .connectionClosed }
        guard isHandshakeConfirmed else { throw .handshakeNotConfirmed }
        guard !(peerTransportParameters?.disableActiveMigration ?? false) else { throw .disabledByPeer }
        guard !pathTable.paths.contains(where: { $0.validation?.fallbackPathID != nil }) else {
            throw .migrationInProgress
        }
        guard let spare = peerConnectionIDs.parkSpare() else { throw .noSpareConnectionID }
        let old = pathTable.activeIndex
        if pathTable.paths[old].localAddress == nil { pathTable.paths[old].localAddress = previousLocalAddress }
        evictPathIfNeeded()
        let index = addPath(
            remote: remoteAddress, local: localAddress, isRemoteValidated: true,
            peerConnectionIDSequence: spare.sequenceNumber)
        queuePathEvent(.opened(snapshot(pathTable.paths[index])))
        switchPath(to: index, now: now)
        // A peer moves to a new address only on a non-probing packet from it (RFC 9000 §9.2, §9.3); PATH_CHALLENGE
        // alone is probing. A client with nothing else to send (a download) must still send one, or a peer that
        // answers challenges only on its current path (aioquic) keeps sending to the old address: a PING.
        isKeepAlivePending = true
        markDirty()
    }

    /// Asks the peer to retire every connection ID we issued so far and issues fresh ones (RFC 9000 §5.1.2,
    /// §19.15 Retire Prior To), for example to limit linkability over a long connection.
    public func rotateLocalConnectionIDs() {
        guard isHandshakeComplete, state == .established || state == .handshaking else { return }
        localConnectionIDs.requestRetirement(priorTo: localConnectionIDs.nextSequenceNumber)
        issueConnectionIDs()
        markDirty()
    }

    // MARK: Receive side

    /// Whether a datagram from `remote` may reach this connection at all. A client discards packets from any
    /// address but its server's (RFC 9000 §9: "If a client receives packets from an unknown server address, the
    /// client MUST discard these packets"): Ferry neither sends nor follows preferred_address (§9.6), and servers
    /// do not migrate, so that address never changes. A server accepts any address: its client may migrate or be
    /// rebound (§9.3).
    func acceptsDatagram(from remote: NetworkAddress) -> Bool {
        side == .server || remote == remoteAddress || pathTable.index(remote: remote) != nil
            || acceptsUnknownServerAddresses
    }

    /// Notes where the datagram being processed came from; called before its packets are processed.
    func beginPathDatagram(from remote: NetworkAddress) {
        pathTable.currentRemote = remote
    }

    /// Notes what path migration needs to know about a decrypted packet, before its frames are processed.
    func beginPathPacket(packetNumber: UInt64, largestReceived: UInt64?, destination: ConnectionID) {
        pathTable.currentPacketIsLargest = largestReceived.map { packetNumber > $0 } ?? true
        pathTable.currentPacketIsNonProbing = false
        pathTable.currentLocalConnectionID = destination
    }

    /// A packet from `remote` authenticated: counts it on its path and follows the peer to a new address
    /// (RFC 9000 §9.3). Only a non-probing packet with the largest packet number so far moves the connection;
    /// the new path is validated and limited to 3× what it received until then.
    func onPathPacketAuthenticated(from remote: NetworkAddress, header: PacketHeader, datagramSize: Int, now: Instant) {
        let active = pathTable.activeIndex
        // A client knows its paths by local address, which the runtime does not report per datagram; datagrams
        // from any other server address never get here (`acceptsDatagram(from:)`).
        if side == .client || remote == pathTable.paths[active].remoteAddress {
            // A client's paths to other server addresses (NAT traversal probes) are told apart by remote address.
            let index = side == .client && remote != pathTable.paths[active].remoteAddress
                ? (pathTable.index(remote: remote) ?? active) : active
            countReceived(datagramSize, on: index)
            if !header.isLongHeader { pathTable.paths[index].lastLocalConnectionID = header.destinationConnectionID }
            return
        }
        guard !header.isLongHeader, isHandshakeConfirmed, state == .established else { return }
        let index: Int
        if let known = pathTable.index(remote: remote) {
            index = known
        } else {
            evictPathIfNeeded()
            let active = pathTable.activeIndex  // eviction may have moved it
            // The peer switched to another of our connection IDs: it migrated on purpose, so we use a new ID of
            // its too (RFC 9000 §9.5); otherwise (NAT rebinding) the current one may stay.
            var sequence = pathTable.paths[active].peerConnectionIDSequence
            let previous = pathTable.paths[active].lastLocalConnectionID
            if previous != nil && previous != header.destinationConnectionID, let spare = peerConnectionIDs.parkSpare() {
                sequence = spare.sequenceNumber
            }
            index = addPath(remote: remote, local: nil, isRemoteValidated: false, peerConnectionIDSequence: sequence)
            queuePathEvent(.opened(snapshot(pathTable.paths[index])))
            // Bundled with the probes on the new path (draft-ietf-quic-address-discovery-00 §5).
            observeRemoteAddress(ofPathAt: index)
        }
        countReceived(datagramSize, on: index)
        if !pathTable.paths[index].isRemoteValidated {
            pathTable.paths[index].amplificationReceived += UInt64(datagramSize)
        }
        pathTable.paths[index].lastLocalConnectionID = header.destinationConnectionID
        if pathTable.currentPacketIsNonProbing && pathTable.currentPacketIsLargest {
            switchPath(to: index, now: now)
        }
    }

    /// PATH_CHALLENGE (RFC 9000 §8.2.2): the response goes out on the path the challenge came on, in a datagram
    /// expanded to 1200 bytes unless the anti-amplification limit forbids it. A client answers on its selected
    /// path: the runtime does not say which local address a datagram arrived on.
    func handlePathChallenge(_ data: UInt64, now: Instant) {
        // A client's datagrams come from its server's address or, with NAT traversal, a candidate's: the
        // response goes back to where the challenge came from.
        let remote = pathTable.currentRemote ?? remoteAddress
        learnPeerReflexiveCandidate(remote, now: now)
        guard pathTable.pendingProbeResponses.count < 4 else { return }
        pathTable.pendingProbeResponses.append((data, remote))
    }

    /// PATH_RESPONSE (RFC 9000 §8.2.3): validates the path whose challenge it echoes. A server also requires it
    /// to come from that path's address; unsolicited responses are ignored.
    func handlePathResponse(_ data: UInt64, now: Instant) {
        guard let index = pathTable.paths.firstIndex(where: { $0.validation?.outstanding.contains(data) ?? false })
        else { return }
        if side == .server, let remote = pathTable.currentRemote, remote != pathTable.paths[index].remoteAddress {
            return
        }
        let fallback = pathTable.paths[index].validation?.fallbackPathID
        var rtt: Duration?
        if let validation = pathTable.paths[index].validation, let position = validation.outstanding.firstIndex(of: data),
            position < validation.sentAt.count
        {
            rtt = now - validation.sentAt[position]
        }
        pathTable.paths[index].validation = nil
        pathTable.paths[index].isValidated = true
        pathTable.paths[index].isRemoteValidated = true
        if pathTable.paths[index].id == pathTable.activeID && !isAddressValidated {
            isAddressValidated = true
            recovery.isAmplificationLimited = false
            recovery.rearmTimer(now: now)
        }
        // The migration succeeded: the old path is abandoned and its connection ID retired (RFC 9000 §9.5).
        let validatedID = pathTable.paths[index].id
        if let fallback, fallback != pathTable.activeID { closePath(fallback) }
        natTraversalPathValidated(validatedID, rtt: rtt, now: now)
        markDirty()
    }

    // MARK: Send side

    /// The address the last datagram from `pollTransmit` goes to.
    var transmitDestination: NetworkAddress { pathTable.probeTarget?.remote ?? remoteAddress }

    /// The local address the last datagram from `pollTransmit` leaves from; nil is the endpoint's socket.
    var transmitSource: NetworkAddress? {
        guard let probe = pathTable.probeTarget else { return pathTable.paths[pathTable.activeIndex].localAddress }
        return probe.local
    }

    /// Whether the last datagram from `pollTransmit` was a probe for another path (not batchable with GSO).
    var isProbeTransmit: Bool { pathTable.probeTarget != nil }

    /// Counts a datagram sent on the selected path.
    func recordPathDatagramSent(size: Int) {
        let active = pathTable.activeIndex
        pathTable.paths[active].counters.bytesSent += UInt64(size)
        pathTable.paths[active].counters.datagramsSent += 1
    }

    /// Writes a path-validation datagram (PATH_CHALLENGE and/or PATH_RESPONSE, padded to 1200 bytes within the
    /// path's anti-amplification budget, RFC 9000 §8.2.1) when one is owed; called first by `pollTransmit`.
    func pollPathProbe(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        pathTable.probeTarget = nil
        guard pathTable.hasProbeWork, isHandshakeComplete, state == .established || state == .handshaking,
            let keys = space(.application).localKeys
        else { return nil }
        // Pick the path: a pending response first (the peer waits on it), else a pending challenge.
        var responseRemote: NetworkAddress?
        var index: Int?
        if let first = pathTable.pendingProbeResponses.first {
            responseRemote = first.remote
            index = first.remote == remoteAddress ? pathTable.activeIndex : pathTable.index(remote: first.remote)
        } else {
            index = pathTable.paths.firstIndex { $0.validation?.isChallengePending ?? false }
        }
        let isActive = index.map { pathTable.paths[$0].id == pathTable.activeID } ?? false
        guard let remote = responseRemote ?? index.map({ pathTable.paths[$0].remoteAddress }) else { return nil }
        let budget: Int
        if isActive {
            let allowed = amplificationBytesReceived * 3
            budget = isAddressValidated ? .max
                : (allowed > amplificationBytesSent ? Int(clamping: allowed - amplificationBytesSent) : 0)
        } else {
            budget = index.map { pathTable.paths[$0].amplificationBudget } ?? 0
        }
        let size = min(1200, budget, buffer.count)
        guard size >= Self.minimumPacketBudget + keys.tagLength else {
            // Blocked by the anti-amplification limit: drop responses we cannot send; challenges wait.
            if responseRemote != nil { pathTable.pendingProbeResponses.removeFirst() }
            return nil
        }
        let connectionID = index.flatMap { peerConnectionIDs.entry(pathTable.paths[$0].peerConnectionIDSequence) }?
            .connectionID ?? destinationConnectionID
        let application = space(.application)
        let packetNumber = application.nextPacketNumber
        let packetNumberLength = PacketNumber.encodedLength(
            packetNumber: packetNumber, largestAcknowledged: application.largestAckedPacket)
        let payloadLimit = size - keys.tagLength
        var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<payloadLimit]), position: 0)
        PacketWriter.writeShortHeader(
            into: &writer, destinationConnectionID: connectionID, packetNumber: packetNumber,
            packetNumberLength: packetNumberLength, keyPhase: keyPhase)
        let packetNumberOffset = writer.position - packetNumberLength
        var frames: [SentFrame] = []
        if let responseRemote {
            while let first = pathTable.pendingProbeResponses.first(where: { $0.remote == responseRemote }),
                writer.remaining >= 9
            {
                Frame.pathResponse(data: first.data).encode(into: &writer)
                frames.append(.pathResponse(first.data))
                if let position = pathTable.pendingProbeResponses.firstIndex(where: {
                    $0.remote == responseRemote && $0.data == first.data
                }) {
                    pathTable.pendingProbeResponses.remove(at: position)
                }
            }
        }
        if let index, pathTable.paths[index].validation?.isChallengePending ?? false, writer.remaining >= 9 {
            let data = context.random.next()
            Frame.pathChallenge(data: data).encode(into: &writer)
            frames.append(.pathChallenge(data))
            var estimator = recovery.pathRecovery(pathTable.paths[index].recoverySlot)?.rtt ?? RTTEstimator()
            if !estimator.hasSample, natTraversal.isProbePath(pathTable.paths[index].id),
                let current = recovery.pathRecovery(pathTable.paths[pathTable.activeIndex].recoverySlot)?.rtt,
                current.hasSample
            {
                // A hole-punching probe: its first challenge usually dies at the peer's NAT, which opens only once
                // the peer's own probe went out. Retry on the relayed path's timescale (a direct path is rarely
                // slower) rather than after a PTO of the 333 ms initial RTT, so a punched path opens in a few RTTs.
                estimator = current
            }
            let interval = estimator.probeTimeoutBase
            pathTable.paths[index].validation?.outstanding.append(data)
            pathTable.paths[index].validation?.sentAt.append(now)
            pathTable.paths[index].validation?.isChallengePending = false
            pathTable.paths[index].validation?.attempts += 1
            pathTable.paths[index].validation?.retryAt = now + interval
        }
        if let index {
            // A probing frame too, owed on this very path (draft-ietf-quic-address-discovery-00 §4.1, §5).
            _ = writeObservedAddress(onPathAt: index, into: &writer, sentFrames: &frames)
        }
        // PADDING to the datagram size (RFC 9000 §8.2.1).
        let payloadEnd = writer.position
        if payloadEnd < payloadLimit {
            UnsafeMutableRawBufferPointer(rebasing: buffer[payloadEnd..<payloadLimit])
                .initializeMemory(as: UInt8.self, repeating: 0)
        }
        application.nextPacketNumber += 1
        let packet = OpenPacket(
            level: .application, headerStart: 0, lengthOffset: nil, packetNumberOffset: packetNumberOffset,
            packetNumberLength: packetNumberLength, packetNumber: packetNumber, payloadEnd: payloadLimit,
            isAckEliciting: true, frameCount: frames.count)
        let end = sealWithoutRecording(packet, buffer: buffer)
        guard end > 0 else { return nil }
        sentFramesObserver?(frames)
        // Charged to the path it probes (RFC 9000 §9.4); a response to an unknown address to the selected one.
        recovery.onPacketSent(
            SentPacket(packetNumber: packetNumber, timeSent: now, size: end, isAckEliciting: true, frames: frames),
            space: .application, now: now, pathSlot: index.map { pathTable.paths[$0].recoverySlot })
        counters.bytesSent += UInt64(end)
        counters.packetsSent += 1
        if isActive {
            if !isAddressValidated { amplificationBytesSent += UInt64(end) }
            recordPathDatagramSent(size: end)
        } else {
            if let index {
                if !pathTable.paths[index].isRemoteValidated {
                    pathTable.paths[index].amplificationSent += UInt64(end)
                }
                pathTable.paths[index].counters.bytesSent += UInt64(end)
                pathTable.paths[index].counters.datagramsSent += 1
            }
            pathTable.probeTarget = (remote, index.flatMap { pathTable.paths[$0].localAddress })
        }
        return end
    }

    // MARK: Timers

    /// The earliest path-validation retry or deadline (RFC 9000 §8.2.4).
    func nextPathTimeout() -> Instant? {
        var earliest: Instant?
        for path in pathTable.paths {
            guard let validation = path.validation else { continue }
            for instant in [validation.retryAt, validation.deadline] {
                guard let instant else { continue }
                if earliest.map({ instant < $0 }) ?? true { earliest = instant }
            }
        }
        return earliest
    }

    /// Retries PATH_CHALLENGE once a PTO passes without an answer, and gives up at the validation deadline:
    /// the connection falls back to the previous path (RFC 9000 §8.2.4, §9.3.2).
    func handlePathTimeout(now: Instant) {
        var failed: [UInt64] = []
        for index in pathTable.paths.indices {
            guard let validation = pathTable.paths[index].validation else { continue }
            if now >= validation.deadline {
                failed.append(pathTable.paths[index].id)
            } else if let retryAt = validation.retryAt, now >= retryAt {
                pathTable.paths[index].validation?.retryAt = nil
                // A punching probe stops at its challenge budget and waits for its deadline.
                let limit = pathTable.paths[index].maxChallenges ?? .max
                pathTable.paths[index].validation?.isChallengePending = validation.attempts < limit
            }
        }
        for id in failed { failValidation(id, now: now) }
    }

    private func failValidation(_ id: UInt64, now: Instant) {
        guard let index = pathTable.index(of: id) else { return }
        let fallback = pathTable.paths[index].validation?.fallbackPathID
        pathTable.paths[index].validation = nil
        natTraversalPathFailed(id, now: now)
        if id == pathTable.activeID {
            guard let fallback, let fallbackIndex = pathTable.index(of: fallback) else {
                // Nowhere to go back to: keep the path; the idle timeout ends a dead connection (RFC 9000 §9.3.2).
                return
            }
            switchPath(to: fallbackIndex, now: now)
        }
        closePath(id)
    }

    // MARK: Switching and closing paths

    /// Makes `index` the selected path: saves the old path's address state, selects the new one's recovery slot,
    /// switches the peer connection ID, and starts validation if needed (RFC 9000 §9.3, §9.4, §9.5).
    func switchPath(to index: Int, now: Instant) {
        let old = pathTable.activeIndex
        guard index != old else { return }
        let oldPTO = recovery.rtt.probeTimeoutBase
        // Save the outgoing path's state.
        pathTable.paths[old].isRemoteValidated = isAddressValidated
        pathTable.paths[old].amplificationReceived = amplificationBytesReceived
        pathTable.paths[old].amplificationSent = amplificationBytesSent
        pathTable.paths[old].peerConnectionIDSequence = peerConnectionIDs.active.sequenceNumber
        pathTable.paths[old].mtu = maxDatagramSize

        // Load the new one's. Its PMTU and ECN support are unknown (RFC 9000 §13.4.2, §14.3) unless it is a NAT
        // rebinding selected for the first time; a path used before is probed again, conservatively.
        let path = pathTable.paths[index]
        recovery.selectPath(path.recoverySlot)
        if !path.isPortOnlyChange { resetPathMTUAndECN() }
        pathTable.paths[index].isPortOnlyChange = false
        recovery.congestionController.maxDatagramSize = maxDatagramSize
        pacer = Pacer(maxDatagramSize: maxDatagramSize)
        updatePacing()
        remoteAddress = path.remoteAddress
        isAddressValidated = path.isRemoteValidated
        amplificationBytesReceived = path.amplificationReceived
        amplificationBytesSent = path.amplificationSent
        if !peerConnectionIDs.reactivate(path.peerConnectionIDSequence) {
            pathTable.paths[index].peerConnectionIDSequence = peerConnectionIDs.active.sequenceNumber
        }
        pathTable.activeID = path.id
        recovery.isAmplificationLimited = false
        recovery.rearmTimer(now: now)
        if !path.isValidated && path.validation == nil {
            // Three PTOs, the larger of the old path's and a new path's (RFC 9000 §8.2.4).
            let timeout = max(oldPTO, RTTEstimator().probeTimeoutBase) * 3
            pathTable.paths[index].validation = PathValidation(
                deadline: now + timeout,
                fallbackPathID: pathTable.paths[old].isValidated ? pathTable.paths[old].id : nil)
        }
        queuePathEvent(.selected(snapshot(pathTable.paths[index])))
        observeRemoteAddress(ofPathAt: index)
        markDirty()
    }

    /// Forgets a path that is not selected, retiring its connection ID if no other path uses it. While packets
    /// sent on it are outstanding it drains: it is gone from `paths`, but its slot still counts their fate, and
    /// its `closed` event follows once they are settled (`finishDrainingPaths`).
    func closePath(_ id: UInt64) {
        guard id != pathTable.activeID, let index = pathTable.index(of: id) else { return }
        let path = pathTable.paths.remove(at: index)
        forgetObservedAddress(ofPath: path.id)
        let sequence = path.peerConnectionIDSequence
        let stillUsed = sequence == peerConnectionIDs.active.sequenceNumber
            || pathTable.paths.contains { $0.peerConnectionIDSequence == sequence }
        if !stillUsed { peerConnectionIDs.retireParked(sequence) }
        pathTable.pendingProbeResponses.removeAll { $0.remote == path.remoteAddress && $0.remote != remoteAddress }
        for other in pathTable.paths.indices where pathTable.paths[other].validation?.fallbackPathID == id {
            pathTable.paths[other].validation?.fallbackPathID = nil
        }
        guard (recovery.pathRecovery(path.recoverySlot)?.outstandingPackets ?? 0) > 0 else {
            releasePath(path)
            return
        }
        // Bounded: past four draining paths the oldest goes now; its remaining packets become orphans.
        if pathTable.draining.count >= 4 { releasePath(pathTable.draining.removeFirst()) }
        pathTable.draining.append(path)
    }

    /// Releases draining paths whose packets are all acknowledged or lost; call after ACK or loss processing.
    func finishDrainingPaths() {
        guard !pathTable.draining.isEmpty else { return }
        var index = 0
        while index < pathTable.draining.count {
            let slot = pathTable.draining[index].recoverySlot
            if (recovery.pathRecovery(slot)?.outstandingPackets ?? 0) == 0 {
                releasePath(pathTable.draining.remove(at: index))
            } else {
                index += 1
            }
        }
    }

    /// The connection stops: draining paths will learn nothing more, so each closes now with what it counted,
    /// before the connection's own `closed` event.
    func closeDrainingPaths() {
        while !pathTable.draining.isEmpty { releasePath(pathTable.draining.removeFirst()) }
    }

    /// Reports a path closed with its final counters and frees its recovery slot.
    private func releasePath(_ path: NetworkPath) {
        queuePathEvent(.closed(snapshot(path)))
        recovery.releasePath(path.recoverySlot)
    }

    /// Adds a path with its own recovery slot (RFC 9000 §9.4): a fresh RTT estimate and congestion controller,
    /// or, when only the peer's port differs from the selected path (NAT rebinding), a copy of its RTT estimate
    /// and its controller, which the two paths then share.
    func addPath(
        remote: NetworkAddress, local: NetworkAddress?, isRemoteValidated: Bool, peerConnectionIDSequence: UInt64
    ) -> Int {
        let isPortOnly = Self.isPortOnlyChange(from: pathTable.paths[pathTable.activeIndex], remote: remote, local: local)
        let slot = isPortOnly
            ? recovery.addPath(rtt: recovery.rtt, congestionController: recovery.congestionController)
            : recovery.addPath(rtt: RTTEstimator(), congestionController: makeCongestionController())
        return pathTable.add(
            remote: remote, local: local, isRemoteValidated: isRemoteValidated,
            peerConnectionIDSequence: peerConnectionIDSequence, recoverySlot: slot, isPortOnlyChange: isPortOnly)
    }

    /// Keeps at most four paths: drops the oldest one that is neither selected nor a fallback.
    func evictPathIfNeeded() {
        guard pathTable.paths.count >= 4 else { return }
        var fallbacks = Set(pathTable.paths.compactMap { $0.validation?.fallbackPathID })
        if let relayed = natTraversalFallbackPathID { fallbacks.insert(relayed) }
        if let victim = pathTable.paths.first(where: { $0.id != pathTable.activeID && !fallbacks.contains($0.id) }) {
            closePath(victim.id)
        }
    }

    private static func isPortOnlyChange(
        from old: NetworkPath, remote: NetworkAddress, local: NetworkAddress?
    ) -> Bool {
        guard old.remoteAddress.ipBytes == remote.ipBytes else { return false }
        switch (old.localAddress, local) {
        case (nil, nil): return true
        case (let before?, let after?): return before.ipBytes == after.ipBytes
        default: return false
        }
    }

    private func makeCongestionController() -> any CongestionController {
        config.congestionControl.makeCongestionController(maxDatagramSize: maxDatagramSize)
    }

    private func countReceived(_ size: Int, on index: Int) {
        guard size > 0 else { return }
        pathTable.paths[index].counters.bytesReceived += UInt64(size)
        pathTable.paths[index].counters.datagramsReceived += 1
    }

    func queuePathEvent(_ event: TransportPathEvent) {
        if pathTable.events.isEmpty { events.append(.pathsChanged) }
        // Bounded: a runtime that never polls loses the oldest changes, not memory.
        if pathTable.events.count >= 32 { pathTable.events.removeFirst() }
        pathTable.events.append(event)
    }

    func snapshot(_ path: NetworkPath) -> PathSnapshot {
        let isSelected = path.id == pathTable.activeID
        let recovery = recovery.pathRecovery(path.recoverySlot)
        let rtt = recovery?.rtt
        let window = recovery?.congestionController.congestionWindow
        return PathSnapshot(
            id: path.id, localAddress: path.localAddress, remoteAddress: path.remoteAddress, isSelected: isSelected,
            isValidated: path.isValidated, smoothedRTT: rtt?.smoothedRTT ?? .zero, minRTT: rtt?.minRTT ?? .zero,
            congestionWindow: window ?? 0, bytesSent: path.counters.bytesSent,
            bytesReceived: path.counters.bytesReceived, datagramsSent: path.counters.datagramsSent,
            datagramsReceived: path.counters.datagramsReceived, packetsLost: recovery?.packetsLost ?? 0,
            mtu: isSelected ? maxDatagramSize : path.mtu)
    }
}

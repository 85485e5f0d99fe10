/// 1-RTT key updates (RFC 9001 §6) and the AEAD usage limits that force them (RFC 9001 §6.6).
///
/// Either side may move to the next key phase once the handshake is confirmed. This side initiates an update
/// when the packets protected under the current write keys reach `KeyUpdateState.interval` (a margin below the
/// AEAD confidentiality limit unless `TransportConfig.keyUpdateInterval` asks for less), but only once the peer
/// acknowledged a packet of the current phase and the previous phase's read keys are gone (RFC 9001 §6.1, §6.5),
/// so updates never overlap. A peer-initiated update is detected by the flipped key phase bit and one trial
/// decryption with the next keys, derived ahead of time (RFC 9001 §6.2, §6.3). Old read keys stay for three PTOs
/// after the first packet of the new phase arrives, for reordered packets (RFC 9001 §6.5). Packets failing
/// authentication count toward the AEAD integrity limit; reaching it closes with AEAD_LIMIT_REACHED.
extension TransportConnection {
    /// Counts a 1-RTT packet protected with the current write keys.
    @inline(__always)
    func onApplicationPacketProtected(packetNumber: UInt64) {
        keyUpdate.packetsSentInPhase &+= 1
        if keyUpdate.firstPacketInPhase == nil { keyUpdate.firstPacketInPhase = packetNumber }
    }

    /// Sets the AEAD limits for the negotiated cipher suite (RFC 9001 §6.6) and the update interval.
    func configureKeyUpdateLimits() {
        let limits = KeyUpdateState.limits(for: handshake.cipherSuite)
        keyUpdate.confidentialityLimit = limits.confidentiality
        keyUpdate.integrityLimit = min(keyUpdate.integrityLimit, limits.integrity)
        let automatic = limits.confidentiality - limits.confidentiality / 8
        keyUpdate.interval = max(1, min(config.keyUpdateInterval ?? automatic, automatic))
    }

    /// Starts a key update when the current write keys have protected `interval` packets and the rules of
    /// RFC 9001 §6.1 allow it; closes with AEAD_LIMIT_REACHED if the confidentiality limit is hit while an update
    /// is not possible (RFC 9001 §6.6). Call before writing any packet.
    @inline(__always)
    func initiateKeyUpdateIfDue(now: Instant) {
        guard keyUpdate.packetsSentInPhase >= keyUpdate.interval else { return }
        initiateKeyUpdate(now: now)
    }

    private func initiateKeyUpdate(now: Instant) {
        guard state == .established || state == .handshaking else { return }
        let application = space(.application)
        guard isHandshakeConfirmed, previousRemoteKeys == nil, let first = keyUpdate.firstPacketInPhase,
            let acknowledged = application.largestAckedPacket, acknowledged >= first,
            let localKeys = application.localKeys, let nextLocal = try? localKeys.makeNextKeyPhase(),
            let nextRemote = nextRemoteKeysOrDerive()
        else {
            if keyUpdate.packetsSentInPhase >= keyUpdate.confidentialityLimit {
                closeWithError(
                    TransportError(.aeadLimitReached, reason: "confidentiality limit reached before a key update"),
                    now: now)
            }
            return
        }
        // The old read keys are dropped three PTOs after the peer's first packet of the new phase.
        switchKeyPhase(local: nextLocal, remote: nextRemote, firstPacket: nil, previousKeysDeadline: nil)
        keyUpdate.localUpdates += 1
    }

    /// Moves both directions to the next key phase, keeping the current read keys as the previous ones.
    private func switchKeyPhase(
        local: any PacketProtector, remote: any PacketProtector, firstPacket: UInt64?, previousKeysDeadline: Instant?
    ) {
        let application = space(.application)
        previousRemoteKeys = application.remoteKeys
        previousRemoteKeysDeadline = previousKeysDeadline
        application.localKeys = local
        application.remoteKeys = remote
        nextRemoteKeys = nil
        keyPhase.toggle()
        currentPhaseFirstPacket = firstPacket
        keyUpdate.startPhase()
    }

    /// The read keys for a short-header packet whose key phase bit differs from the current phase: the previous
    /// keys for a reordered old packet, or the next keys for a peer-initiated update (RFC 9001 §6.3). Nil drops
    /// the packet.
    func readKeysForOtherPhase(packetNumber: UInt64) -> (keys: any PacketProtector, isKeyUpdate: Bool)? {
        if let previous = previousRemoteKeys, currentPhaseFirstPacket.map({ packetNumber < $0 }) ?? true {
            return (previous, false)
        }
        guard isHandshakeConfirmed, let next = nextRemoteKeysOrDerive() else { return nil }
        return (next, true)
    }

    /// Bookkeeping after a short-header packet decrypted: follow a peer's key update, or note the first packet
    /// of the current phase (which starts the countdown on the previous read keys). Returns false when the
    /// packet closed the connection with KEY_UPDATE_ERROR and its frames must not be processed.
    func onShortHeaderPacketOpened(packetNumber: UInt64, phase: Bool, isKeyUpdate: Bool, now: Instant) -> Bool {
        keyUpdate.isOpenedWithPreviousKeys = !isKeyUpdate && phase != keyPhase
        if isKeyUpdate {
            // RFC 9001 §6.2: a second update before this side sent an ACK (under the updated keys) of the packet
            // that started the first one means the peer updated twice without waiting for confirmation.
            if let initiating = keyUpdate.unacknowledgedPeerUpdate {
                closeWithError(
                    TransportError(
                        .keyUpdateError,
                        reason: "key update before the update in packet \(initiating) was acknowledged"),
                    now: now)
                return false
            }
            completePeerKeyUpdate(packetNumber: packetNumber, now: now)
        } else if phase == keyPhase && currentPhaseFirstPacket == nil {
            currentPhaseFirstPacket = packetNumber
            if previousRemoteKeys != nil {
                previousRemoteKeysDeadline = now + recovery.rtt.probeTimeoutBase * 3
            }
        }
        return true
    }

    /// Checks an ACK frame of a 1-RTT packet before it is applied (RFC 9001 §6.2): a packet protected with the
    /// previous keys cannot acknowledge one this side protected with the current keys, because the peer must
    /// update as soon as it reads a packet of the new phase.
    func validateAckKeyPhase(_ ack: AckFrame) throws(TransportError) {
        guard keyUpdate.isOpenedWithPreviousKeys, let first = keyUpdate.firstPacketInPhase,
            ack.largestAcknowledged >= first
        else { return }
        throw TransportError(
            .keyUpdateError, frameType: 0x02,
            reason: "packet with old keys acknowledged packet \(ack.largestAcknowledged) sent with newer keys")
    }

    /// Notes an ACK frame this side wrote in a 1-RTT packet: acknowledging the packet that started the peer's
    /// last update lets the peer start the next one (RFC 9001 §6.1).
    @inline(__always)
    func onApplicationAckSent(largestAcknowledged: UInt64) {
        if let initiating = keyUpdate.unacknowledgedPeerUpdate, largestAcknowledged >= initiating {
            keyUpdate.unacknowledgedPeerUpdate = nil
        }
    }

    /// A packet failed authentication (RFC 9001 §6.6): count it toward the integrity limit, across all keys.
    func onPacketAuthenticationFailed(now: Instant) {
        keyUpdate.failedDecryptions &+= 1
        if keyUpdate.failedDecryptions >= keyUpdate.integrityLimit {
            closeWithError(
                TransportError(.aeadLimitReached, reason: "AEAD integrity limit reached"), now: now)
        }
    }

    private func nextRemoteKeysOrDerive() -> (any PacketProtector)? {
        if let nextRemoteKeys { return nextRemoteKeys }
        guard let current = space(.application).remoteKeys else { return nil }
        nextRemoteKeys = try? current.makeNextKeyPhase()
        return nextRemoteKeys
    }

    /// The peer moved to the next key phase: follow it, updating our write keys too (RFC 9001 §6.2), and keep
    /// the old read keys for about three PTOs for reordered packets (RFC 9001 §6.5).
    private func completePeerKeyUpdate(packetNumber: UInt64, now: Instant) {
        let application = space(.application)
        guard let next = nextRemoteKeys, let localKeys = application.localKeys,
            let nextLocal = try? localKeys.makeNextKeyPhase()
        else { return }
        switchKeyPhase(
            local: nextLocal, remote: next, firstPacket: packetNumber,
            previousKeysDeadline: now + recovery.rtt.probeTimeoutBase * 3)
        keyUpdate.peerUpdates += 1
        keyUpdate.unacknowledgedPeerUpdate = packetNumber
    }

    /// Key updates this side initiated and the peer initiated, for tests and diagnostics.
    var keyUpdateCounts: (local: Int, peer: Int) { (keyUpdate.localUpdates, keyUpdate.peerUpdates) }
}

/// Per-connection key update bookkeeping (RFC 9001 §6, §6.6).
struct KeyUpdateState {
    /// Packets protected with the current write keys.
    var packetsSentInPhase: UInt64 = 0
    /// The first packet number sent with the current write keys; an ACK at or above it confirms the phase.
    var firstPacketInPhase: UInt64?
    /// Packets per phase before this side initiates an update; set once the cipher suite is known.
    var interval: UInt64 = .max
    /// Packets one set of keys may protect (RFC 9001 §6.6).
    var confidentialityLimit: UInt64 = 1 << 23
    /// Failed decryptions the connection tolerates, across all keys (RFC 9001 §6.6).
    var integrityLimit: UInt64 = 1 << 52
    /// Packets that failed authentication so far.
    var failedDecryptions: UInt64 = 0
    /// Updates initiated by this side and by the peer.
    var localUpdates = 0
    var peerUpdates = 0
    /// The packet that started the peer's last key update, until this side sends an ACK covering it; a further
    /// update meanwhile is a KEY_UPDATE_ERROR (RFC 9001 §6.2).
    var unacknowledgedPeerUpdate: UInt64?
    /// Whether the 1-RTT packet being processed was opened with the previous phase's read keys.
    var isOpenedWithPreviousKeys = false

    mutating func startPhase() {
        packetsSentInPhase = 0
        firstPacketInPhase = nil
    }

    /// RFC 9001 §6.6: AES-GCM may protect 2^23 packets and tolerate 2^52 forgeries; ChaCha20-Poly1305 has no
    /// practical confidentiality limit and tolerates 2^36 forgeries.
    static func limits(for suite: CipherSuite?) -> (confidentiality: UInt64, integrity: UInt64) {
        switch suite {
        case .chacha20Poly1305SHA256: (1 << 62, 1 << 36)
        case .aes128GCMSHA256, .aes256GCMSHA384, nil: (1 << 23, 1 << 52)
        }
    }
}

/// The connection's timers: loss detection and PTO (RFC 9002 §6), delayed ACKs (RFC 9000 §13.2.1), pacing
/// (RFC 9002 §7.7), idle timeout and keep-alive (RFC 9000 §10.1), closing/draining (RFC 9000 §10.2) and the
/// retention of old 1-RTT keys after a key update (RFC 9001 §6.5).
extension TransportConnection {
    /// Restarts the idle timer with the negotiated timeout, but never less than three PTOs, so a slow path is not
    /// mistaken for a dead one (RFC 9000 §10.1). No timeout negotiated: nothing to restart.
    func restartIdleTimer(now: Instant) {
        guard let idleTimeout else { return }
        idleDeadline = now + max(idleTimeout, recovery.rtt.probeTimeoutBase * 3)
    }

    /// The earliest instant at which `handleTimeout` has work to do, or nil.
    func nextTimeout() -> Instant? {
        switch state {
        case .closed:
            return nil
        case .closing, .draining:
            return closeDeadline
        case .handshaking, .established:
            break
        }
        var earliest = idleDeadline
        func consider(_ instant: Instant?) {
            guard let instant else { return }
            if earliest.map({ instant < $0 }) ?? true { earliest = instant }
        }
        consider(recovery.lossDetectionTimeout())
        // An ACK held back by the anti-amplification limit waits for bytes from the peer, not for a timer
        // (RFC 9000 §8.1); its deadline would otherwise stay in the past and spin the event loop.
        if !recovery.isAmplificationLimited {
            for space in spaces where !space.isDiscarded && space.localKeys != nil {
                consider(space.received.ackDeadline)
            }
        }
        consider(pacingDeadline)
        consider(previousRemoteKeysDeadline)
        consider(nextPathTimeout())
        consider(nextNATTraversalTimeout())
        if let keepAliveInterval = config.keepAliveInterval, isHandshakeComplete, !isKeepAlivePending {
            consider((lastAckElicitingSentTime ?? .zero) + keepAliveInterval)
        }
        return earliest
    }

    /// Fires every timer due at `now`.
    func handleTimeout(now: Instant) {
        switch state {
        case .closed:
            return
        case .closing, .draining:
            if let closeDeadline, now >= closeDeadline { enterClosed(now: now) }
            return
        case .handshaking, .established:
            break
        }
        if let idleDeadline, now >= idleDeadline {
            handleIdleTimeout(now: now)
            return
        }
        if let deadline = previousRemoteKeysDeadline, now >= deadline {
            previousRemoteKeys = nil
            previousRemoteKeysDeadline = nil
        }
        if let deadline = pacingDeadline, now >= deadline {
            pacingDeadline = nil
        }
        if let keepAliveInterval = config.keepAliveInterval, isHandshakeComplete,
            now >= (lastAckElicitingSentTime ?? .zero) + keepAliveInterval
        {
            isKeepAlivePending = true
        }
        handlePathTimeout(now: now)
        handleNATTraversalTimeout(now: now)
        if let deadline = recovery.lossDetectionTimeout(), now >= deadline {
            handleLossDetectionTimeout(now: now)
        }
    }

    private func handleLossDetectionTimeout(now: Instant) {
        switch recovery.onTimeout(now: now) {
        case .none:
            break
        case .packetsLost(let space, let packets, _):
            let level = EncryptionLevel(rawValue: space.rawValue) ?? .application
            onPacketsLost(packets, level: level)
            onPathPacketsSettled(acknowledged: [], lost: packets, level: level)
            finishDrainingPaths()
        case .sendProbes(let space, let count):
            let level = EncryptionLevel(rawValue: space.rawValue) ?? .application
            var target = self.space(level)
            if target.isDiscarded || target.localKeys == nil {
                // Probe in the highest level we can send in.
                guard let fallback = spaces.last(where: { !$0.isDiscarded && $0.localKeys != nil }) else { return }
                target = fallback
            }
            // A client that has not heard from the server yet sends one probe, which carries the ClientHello
            // again below: a second probe would be PING-only, and if it is the first Initial the server receives,
            // the server cannot start the connection (RFC 9000 §17.2.2) and aioquic closes it with
            // PROTOCOL_VIOLATION (seen under 30 % loss, Interop/run_cases.py handshakeloss).
            let hasHeardFromServer = side == .server || self.space(.handshake).localKeys != nil
            let count = target.level == .initial && !hasHeardFromServer ? min(count, 1) : count
            target.probesOwed = max(target.probesOwed, count)
            if target.level == .application { natTraversalProbeTimedOut(now: now) }
            if target.level == .application && !streams.hasPendingTransmit && outgoingDatagrams.isEmpty {
                // Nothing new to send: the probes carry the oldest unacknowledged data again (RFC 9002 §6.2.4).
                for frame in recovery.oldestOutstandingFrames(in: .application, packetLimit: count) {
                    if case .crypto(_, let offset, let length) = frame {
                        target.cryptoSend.onLost(offset: offset, length: length)
                    } else {
                        streams.onLost(frame)
                    }
                }
            } else if target.level != .application {
                // Retransmit outstanding handshake data in the probes (RFC 9002 §6.2.4).
                for packet in recovery.outstandingPackets(in: target.level.packetNumberSpace) {
                    for frame in packet.frames {
                        if case .crypto(_, let offset, let length) = frame {
                            target.cryptoSend.onLost(offset: offset, length: length)
                        }
                    }
                }
            }
        }
    }
}

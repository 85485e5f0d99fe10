extension LossDetection {
    /// Recomputes the loss detection timer; call after changing any of the handshake/address flags
    /// (RFC 9002 §A.8).
    public mutating func rearmTimer(now: Instant) {
        setLossDetectionTimer(now: now)
    }

    /// The earliest time-threshold loss time and its space (RFC 9002 §A.8 GetLossTimeAndSpace).
    func earliestLossTime() -> (time: Instant, space: PacketNumberSpace)? {
        var best: (time: Instant, space: PacketNumberSpace)?
        for space in PacketNumberSpace.allCases {
            guard let time = spaces[space.rawValue].lossTime else { continue }
            if best.map({ time < $0.time }) ?? true { best = (time, space) }
        }
        return best
    }

    /// The probe timeout and its space (RFC 9002 §A.8 GetPtoTimeAndSpace): the PTO period backs off
    /// exponentially with `ptoCount`; the application space adds max_ack_delay and is only armed once the
    /// handshake is confirmed (RFC 9002 §6.2.1). With nothing in flight (client anti-deadlock) the PTO runs from
    /// `now` in the Handshake space if its keys exist, else Initial.
    func probeTimeoutAndSpace(now: Instant) -> (time: Instant, space: PacketNumberSpace)? {
        let backoff = UInt64(1) << UInt64(min(ptoCount, 30))
        var duration = saturatingMultiply(rtt.probeTimeoutBaseNanoseconds, backoff)
        if !hasAckElicitingInFlight {
            return (now.advanced(byNanoseconds: duration), hasHandshakeKeys ? .handshake : .initial)
        }
        var best: (time: Instant, space: PacketNumberSpace)?
        for space in PacketNumberSpace.allCases {
            let state = spaces[space.rawValue]
            guard state.ackElicitingInFlight > 0, !state.isDiscarded,
                let lastSent = state.timeOfLastAckElicitingPacket
            else { continue }
            if space == .application {
                // Application data is not probed before confirmation (RFC 9002 §6.2.1).
                guard isHandshakeConfirmed else { return best }
                duration = saturatingAdd(duration, saturatingMultiply(peerMaxAckDelayNanoseconds, backoff))
            }
            let time = lastSent.advanced(byNanoseconds: duration)
            if best.map({ time < $0.time }) ?? true { best = (time, space) }
        }
        return best
    }

    /// RFC 9002 §A.8 SetLossDetectionTimer.
    mutating func setLossDetectionTimer(now: Instant) {
        if let loss = earliestLossTime() {
            timer = loss.time
            return
        }
        if isAmplificationLimited {
            // The server cannot send anyway; the timer is re-armed when datagrams arrive.
            timer = nil
            return
        }
        if !hasAckElicitingInFlight && hasPeerCompletedAddressValidation {
            timer = nil
            return
        }
        timer = probeTimeoutAndSpace(now: now)?.time
    }

    /// Handles expiry of the loss detection timer (RFC 9002 §A.9 OnLossDetectionTimeout).
    ///
    /// Returns `.none` if the timer is not due at `now`. Lost packets are already reported to the congestion
    /// controller; probe requests increment `ptoCount` and back the timer off.
    public mutating func onTimeout(now: Instant) -> TimeoutOutcome {
        guard let deadline = lossDetectionTimeout(), deadline <= now else { return .none }
        if let loss = earliestLossTime() {
            lostScratch.removeAll(keepingCapacity: true)
            let persistentSlots = detectAndRemoveLostPackets(spaceIndex: loss.space.rawValue, now: now)
            spaces[loss.space.rawValue].sent.trimFront()
            if !lostScratch.isEmpty { reportLost(lostScratch, persistentSlots: persistentSlots, now: now) }
            setLossDetectionTimer(now: now)
            return .packetsLost(
                space: loss.space, packets: lostScratch, isPersistentCongestion: persistentSlots != 0)
        }
        if !hasAckElicitingInFlight {
            guard !hasPeerCompletedAddressValidation else {
                timer = nil
                return .none
            }
            // Client anti-deadlock (RFC 9002 §6.2.2.1): give the server something to acknowledge or amplify.
            ptoCount += 1
            setLossDetectionTimer(now: now)
            return .sendProbes(space: hasHandshakeKeys ? .handshake : .initial, count: 1)
        }
        guard let probe = probeTimeoutAndSpace(now: now) else {
            timer = nil
            return .none
        }
        ptoCount += 1
        setLossDetectionTimer(now: now)
        return .sendProbes(space: probe.space, count: 2)
    }

    /// Drops all state of a space whose keys were discarded (RFC 9002 §6.4, §A.11): its in-flight bytes leave the
    /// congestion controller, its packets are neither acknowledged nor lost, and pto_count resets. Later sends
    /// and ACKs in the space are ignored.
    public mutating func discard(space: PacketNumberSpace, now: Instant) {
        let index = space.rawValue
        let discarded = spaces[index].sent.removeAll()
        spaces[index].isDiscarded = true
        spaces[index].timeOfLastAckElicitingPacket = nil
        spaces[index].lossTime = nil
        spaces[index].ackElicitingInFlight = 0
        discardOnPaths(discarded)
        ptoCount = 0
        setLossDetectionTimer(now: now)
    }
}

extension LossDetection {
    /// Removes every outstanding packet of `space` without an acknowledgement or congestion signal and returns
    /// them, oldest first, so their frames can be sent again: for a Retry, which implicitly rejects the client's
    /// Initial packets (RFC 9002 §6.3, RFC 9000 §17.2.5.3).
    ///
    /// Unlike `discard(space:now:)` the space stays usable and packet numbers keep increasing (RFC 9000 §17.2.5.3
    /// forbids resetting them); the removed packets' bytes leave the congestion controller's bytes in flight.
    public mutating func removeOutstandingPackets(in space: PacketNumberSpace, now: Instant) -> [SentPacket] {
        let index = space.rawValue
        var removed: [SentPacket] = []
        var cursor = spaces[index].sent.startIndex
        while cursor < spaces[index].sent.endIndex {
            if spaces[index].sent.state(at: cursor) == .outstanding {
                removed.append(spaces[index].sent.settle(at: cursor, as: .lost))
            }
            cursor += 1
        }
        spaces[index].sent.trimFront()
        spaces[index].ackElicitingInFlight = 0
        spaces[index].timeOfLastAckElicitingPacket = nil
        spaces[index].lossTime = nil
        discardOnPaths(removed)
        setLossDetectionTimer(now: now)
        return removed
    }
}

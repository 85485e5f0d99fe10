/// Connection IDs this endpoint issued to the peer (RFC 9000 §5.1.1).
///
/// Sequence 0 is the Source Connection ID of the handshake; more are issued with NEW_CONNECTION_ID up to the
/// peer's `active_connection_id_limit`, and replaced when the peer retires one. Raising `retirePriorTo` asks the
/// peer to retire older IDs (RFC 9000 §19.15); until it does, they still route and do not count against the
/// peer's limit, so the peer keeps spare IDs for migration (RFC 9000 §9.5).
struct LocalConnectionIDs {
    struct Issued {
        var sequenceNumber: UInt64
        var connectionID: ConnectionID
        var resetToken: StatelessResetToken
    }

    private(set) var issued: [Issued] = []
    private(set) var nextSequenceNumber: UInt64 = 0
    /// The Retire Prior To value carried by our NEW_CONNECTION_ID frames (RFC 9000 §19.15).
    private(set) var retirePriorTo: UInt64 = 0
    /// Sequence numbers whose NEW_CONNECTION_ID frame must be (re)sent.
    var pendingAnnouncements: [UInt64] = []

    /// IDs the peer may still use and has not been asked to retire: what its limit counts.
    var activeCount: Int { issued.count { $0.sequenceNumber >= retirePriorTo } }

    /// Records a newly issued connection ID and returns its sequence number.
    mutating func add(_ connectionID: ConnectionID, resetToken: StatelessResetToken, announce: Bool) -> UInt64 {
        let sequence = nextSequenceNumber
        nextSequenceNumber += 1
        issued.append(Issued(sequenceNumber: sequence, connectionID: connectionID, resetToken: resetToken))
        if announce { pendingAnnouncements.append(sequence) }
        return sequence
    }

    func lookup(sequenceNumber: UInt64) -> Issued? {
        issued.first { $0.sequenceNumber == sequenceNumber }
    }

    /// The sequence number of one of our IDs, or nil if it is not (or no longer) ours.
    func sequenceNumber(of connectionID: ConnectionID) -> UInt64? {
        issued.first { $0.connectionID == connectionID }?.sequenceNumber
    }

    /// Asks the peer to retire every ID below `sequence` (RFC 9000 §5.1.2); the next NEW_CONNECTION_ID frames
    /// carry it. Never lowers the value and never exceeds the next sequence number.
    mutating func requestRetirement(priorTo sequence: UInt64) {
        retirePriorTo = max(retirePriorTo, min(sequence, nextSequenceNumber))
    }

    /// Handles RETIRE_CONNECTION_ID (RFC 9000 §19.16); returns the retired ID, or nil when already retired.
    ///
    /// `usedConnectionID` is the Destination Connection ID of the packet that carried the frame: retiring it is a
    /// PROTOCOL_VIOLATION (RFC 9000 §19.16).
    mutating func retire(
        sequenceNumber: UInt64, usedConnectionID: ConnectionID? = nil
    ) throws(TransportError) -> ConnectionID? {
        guard sequenceNumber < nextSequenceNumber else {
            throw TransportError(.protocolViolation, frameType: 0x19, reason: "retired an unissued connection ID")
        }
        guard let index = issued.firstIndex(where: { $0.sequenceNumber == sequenceNumber }) else { return nil }
        if let usedConnectionID, issued[index].connectionID == usedConnectionID {
            throw TransportError(
                .protocolViolation, frameType: 0x19, reason: "retired the connection ID the packet was sent to")
        }
        pendingAnnouncements.removeAll { $0 == sequenceNumber }
        return issued.remove(at: index).connectionID
    }
}

/// Connection IDs the peer issued to us, for use as Destination Connection IDs (RFC 9000 §5.1.2).
///
/// `active` is the ID of the selected path; `parked` are IDs still bound to another path (the path a migration
/// may fall back to, RFC 9000 §9.5: an ID is never used on two paths); `available` are unused spares.
struct PeerConnectionIDs {
    struct Available {
        var sequenceNumber: UInt64
        var connectionID: ConnectionID
        var resetToken: StatelessResetToken?
    }

    /// Known, unused, unretired IDs.
    private(set) var available: [Available] = []
    /// IDs bound to a path other than the selected one.
    private(set) var parked: [Available] = []
    private(set) var active: Available
    private(set) var retirePriorTo: UInt64 = 0
    /// Sequence numbers whose RETIRE_CONNECTION_ID frame must be (re)sent.
    var pendingRetirements: [UInt64] = []
    /// Sequence numbers retired at or above `retirePriorTo`, so a retransmitted NEW_CONNECTION_ID is not re-added.
    private var retiredSequenceNumbers: Set<UInt64> = []

    init(initial: ConnectionID) {
        active = Available(sequenceNumber: 0, connectionID: initial, resetToken: nil)
    }

    /// Unused IDs a migration could switch to (RFC 9000 §9.5).
    var spareCount: Int { available.count }

    /// Replaces the handshake-time ID (client: the server's chosen SCID, RFC 9000 §7.2).
    mutating func replaceInitial(_ connectionID: ConnectionID) {
        active.connectionID = connectionID
    }

    /// Records the stateless reset token for sequence 0 from the server's transport parameters.
    mutating func setInitialResetToken(_ token: StatelessResetToken?) {
        if active.sequenceNumber == 0 { active.resetToken = token }
    }

    /// Whether `token` is the reset token of any ID the peer gave us (RFC 9000 §10.3.1).
    func matchesResetToken(_ token: StatelessResetToken) -> Bool {
        active.resetToken == token || available.contains { $0.resetToken == token }
            || parked.contains { $0.resetToken == token }
    }

    /// Whether `sequence` is still usable (active, parked or spare).
    func isUsable(_ sequence: UInt64) -> Bool {
        active.sequenceNumber == sequence || parked.contains { $0.sequenceNumber == sequence }
            || available.contains { $0.sequenceNumber == sequence }
    }

    /// The ID with `sequence` if it is still usable.
    func entry(_ sequence: UInt64) -> Available? {
        if active.sequenceNumber == sequence { return active }
        return parked.first { $0.sequenceNumber == sequence } ?? available.first { $0.sequenceNumber == sequence }
    }

    /// Switches the selected path to the lowest unused ID; the previous one is parked for its old path.
    /// Returns nil (and changes nothing) when no spare ID is left.
    mutating func activateSpare() -> Available? {
        guard let next = available.min(by: { $0.sequenceNumber < $1.sequenceNumber }) else { return nil }
        available.removeAll { $0.sequenceNumber == next.sequenceNumber }
        parked.append(active)
        active = next
        return next
    }

    /// Makes the (parked or spare) ID `sequence` the selected path's ID again, parking the current one.
    /// Returns false when it is no longer usable.
    mutating func reactivate(_ sequence: UInt64) -> Bool {
        guard sequence != active.sequenceNumber else { return true }
        let entry: Available
        if let index = parked.firstIndex(where: { $0.sequenceNumber == sequence }) {
            entry = parked.remove(at: index)
        } else if let index = available.firstIndex(where: { $0.sequenceNumber == sequence }) {
            entry = available.remove(at: index)
        } else {
            return false
        }
        parked.append(active)
        active = entry
        return true
    }

    /// Takes a spare ID for a path that is not selected (a probe answer, RFC 9000 §9.5), parking it.
    mutating func parkSpare() -> Available? {
        guard let next = available.min(by: { $0.sequenceNumber < $1.sequenceNumber }) else { return nil }
        available.removeAll { $0.sequenceNumber == next.sequenceNumber }
        parked.append(next)
        return next
    }

    /// Retires a parked ID (its path is gone): RETIRE_CONNECTION_ID follows (RFC 9000 §19.16).
    mutating func retireParked(_ sequence: UInt64) {
        guard let index = parked.firstIndex(where: { $0.sequenceNumber == sequence }) else { return }
        parked.remove(at: index)
        pendingRetirements.append(sequence)
        retiredSequenceNumbers.insert(sequence)
    }

    /// Handles NEW_CONNECTION_ID (RFC 9000 §19.15) with our `limit` (`active_connection_id_limit`).
    mutating func add(_ frame: NewConnectionIDFrame, limit: UInt64) throws(TransportError) {
        if let existing = entry(frame.sequenceNumber) {
            guard existing.connectionID == frame.connectionID,
                existing.resetToken == nil || existing.resetToken == frame.statelessResetToken
            else {
                throw TransportError(.protocolViolation, frameType: 0x18, reason: "connection ID sequence reused")
            }
            return
        }
        if frame.sequenceNumber < retirePriorTo {
            pendingRetirements.append(frame.sequenceNumber)
            return
        }
        if retiredSequenceNumbers.contains(frame.sequenceNumber) { return }
        available.append(Available(
            sequenceNumber: frame.sequenceNumber, connectionID: frame.connectionID,
            resetToken: frame.statelessResetToken))
        if frame.retirePriorTo > retirePriorTo {
            retirePriorTo = frame.retirePriorTo
            retiredSequenceNumbers = retiredSequenceNumbers.filter { $0 >= retirePriorTo }
            for entry in available + parked where entry.sequenceNumber < retirePriorTo {
                pendingRetirements.append(entry.sequenceNumber)
            }
            available.removeAll { $0.sequenceNumber < retirePriorTo }
            parked.removeAll { $0.sequenceNumber < retirePriorTo }
            if active.sequenceNumber < retirePriorTo {
                pendingRetirements.append(active.sequenceNumber)
                if let next = available.min(by: { $0.sequenceNumber < $1.sequenceNumber }) {
                    available.removeAll { $0.sequenceNumber == next.sequenceNumber }
                    active = next
                }
            }
        }
        // The limit counts every ID we hold and have not retired (RFC 9000 §5.1.1).
        guard UInt64(available.count + parked.count + 1) <= limit else {
            throw TransportError(.connectionIDLimitError, frameType: 0x18, reason: "too many connection IDs")
        }
    }
}

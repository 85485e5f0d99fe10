/// Connection IDs this endpoint issued to the peer (RFC 9000 §5.1.1).
///
/// Sequence 0 is the Source Connection ID of the handshake; more are issued with NEW_CONNECTION_ID up to the
/// peer's `active_connection_id_limit`, and replaced when the peer retires one.
struct LocalConnectionIDs {
    struct Issued {
        var sequenceNumber: UInt64
        var connectionID: ConnectionID
        var resetToken: StatelessResetToken
    }

    private(set) var issued: [Issued] = []
    private(set) var nextSequenceNumber: UInt64 = 0
    /// Sequence numbers whose NEW_CONNECTION_ID frame must be (re)sent.
    var pendingAnnouncements: [UInt64] = []

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

    /// Handles RETIRE_CONNECTION_ID (RFC 9000 §19.16); returns the retired ID, or nil when already retired.
    mutating func retire(sequenceNumber: UInt64) throws(TransportError) -> ConnectionID? {
        guard sequenceNumber < nextSequenceNumber else {
            throw TransportError(.protocolViolation, frameType: 0x19, reason: "retired an unissued connection ID")
        }
        guard let index = issued.firstIndex(where: { $0.sequenceNumber == sequenceNumber }) else { return nil }
        pendingAnnouncements.removeAll { $0 == sequenceNumber }
        return issued.remove(at: index).connectionID
    }
}

/// Connection IDs the peer issued to us, for use as Destination Connection IDs (RFC 9000 §5.1.2).
struct PeerConnectionIDs {
    struct Available {
        var sequenceNumber: UInt64
        var connectionID: ConnectionID
        var resetToken: StatelessResetToken?
    }

    /// Known, unretired IDs; `active` is the one in use.
    private(set) var available: [Available] = []
    private(set) var active: Available
    private(set) var retirePriorTo: UInt64 = 0
    /// Sequence numbers whose RETIRE_CONNECTION_ID frame must be (re)sent.
    var pendingRetirements: [UInt64] = []

    init(initial: ConnectionID) {
        active = Available(sequenceNumber: 0, connectionID: initial, resetToken: nil)
    }

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
    }

    /// Handles NEW_CONNECTION_ID (RFC 9000 §19.15) with our `limit` (`active_connection_id_limit`).
    mutating func add(_ frame: NewConnectionIDFrame, limit: UInt64) throws(TransportError) {
        if frame.sequenceNumber == active.sequenceNumber
            || available.contains(where: { $0.sequenceNumber == frame.sequenceNumber })
        {
            let existing = frame.sequenceNumber == active.sequenceNumber
                ? active : available.first { $0.sequenceNumber == frame.sequenceNumber }
            guard existing?.connectionID == frame.connectionID else {
                throw TransportError(.protocolViolation, frameType: 0x18, reason: "connection ID sequence reused")
            }
            return
        }
        if frame.sequenceNumber < retirePriorTo {
            pendingRetirements.append(frame.sequenceNumber)
            return
        }
        available.append(Available(
            sequenceNumber: frame.sequenceNumber, connectionID: frame.connectionID,
            resetToken: frame.statelessResetToken))
        if frame.retirePriorTo > retirePriorTo {
            retirePriorTo = frame.retirePriorTo
            for entry in available where entry.sequenceNumber < retirePriorTo {
                pendingRetirements.append(entry.sequenceNumber)
            }
            available.removeAll { $0.sequenceNumber < retirePriorTo }
            if active.sequenceNumber < retirePriorTo {
                pendingRetirements.append(active.sequenceNumber)
                if let next = available.min(by: { $0.sequenceNumber < $1.sequenceNumber }) {
                    available.removeAll { $0.sequenceNumber == next.sequenceNumber }
                    active = next
                }
            }
        }
        guard UInt64(available.count + 1) <= limit else {
            throw TransportError(.connectionIDLimitError, frameType: 0x18, reason: "too many connection IDs")
        }
    }
}

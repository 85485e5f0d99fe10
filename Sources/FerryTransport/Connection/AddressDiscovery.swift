/// One connection's QUIC Address Discovery state (draft-ietf-quic-address-discovery-00): what the two sides
/// negotiated, the observations this side owes the peer on each path, and the latest one the peer sent.
///
/// A value type with no connection internals, so its rules are tested on their own; the connection feeds it
/// path changes, losses and received frames (TransportConnection+AddressDiscovery.swift).
///
/// Invariants:
/// - reports exist only while sending is negotiated, at most one per path, and leave with their path;
/// - sequence numbers are issued once each, increasing over the connection (§4.1 MUST);
/// - the received observation only moves to a frame with a higher sequence number than any seen before.
struct AddressDiscovery {
    /// The observation owed or sent on one path.
    struct Report: Equatable {
        /// The path (`NetworkPath.id`) it describes and must be sent on (§4.1: retransmissions on the same path).
        var pathID: UInt64
        var sequenceNumber: UInt64
        /// The peer's address on that path as this side sees it.
        var address: NetworkAddress
        /// Not sent yet, or lost while still current.
        var isPending: Bool
    }

    /// What this side advertised.
    let localRole: AddressDiscoveryRole
    /// The peer's address_discovery parameter, once its transport parameters arrived; nil when it sent none.
    private(set) var peerMode: AddressDiscoveryMode?
    /// Whether this side sends OBSERVED_ADDRESS: it offered to provide them and the peer asked for them (§3, §4.1:
    /// "MUST NOT send an OBSERVED_ADDRESS frame to a node that did not request" them).
    private(set) var isSending = false
    /// The latest report per path; a handful at most (the path table keeps four paths).
    private(set) var reports: [Report] = []
    /// The sequence number the next report gets.
    private(set) var nextSequenceNumber: UInt64 = 0
    /// The highest sequence number received from the peer.
    private(set) var largestReceivedSequenceNumber: UInt64?
    /// This endpoint's address as the peer last reported it.
    private(set) var observedAddress: NetworkAddress?

    init(localRole: AddressDiscoveryRole) {
        self.localRole = localRole
    }

    /// Whether an OBSERVED_ADDRESS from the peer is acceptable: only if this side asked for them; otherwise it is
    /// a PROTOCOL_VIOLATION (§4.1).
    var acceptsObservations: Bool { localRole.receivesObservations }

    /// Records the peer's transport parameter once the handshake delivered it, which decides `isSending`.
    mutating func start(peerMode: AddressDiscoveryMode?) {
        self.peerMode = peerMode
        isSending = localRole.providesObservations && (peerMode?.receivesObservations ?? false)
    }

    // MARK: Sending

    /// Owes the peer a report that its address on `pathID` is `address` (§5: on every new path, and when the
    /// remote address of a path changes). Nothing new is issued when the path's report already says so and no
    /// later report went out since: the peer's view is still current. Returns whether a report was queued.
    @discardableResult
    mutating func observe(_ address: NetworkAddress, onPath pathID: UInt64) -> Bool {
        guard isSending else { return false }
        let index = reports.firstIndex { $0.pathID == pathID }
        if let index, reports[index].address == address, reports[index].sequenceNumber + 1 == nextSequenceNumber {
            return false
        }
        let report = Report(pathID: pathID, sequenceNumber: nextSequenceNumber, address: address, isPending: true)
        nextSequenceNumber += 1
        if let index { reports[index] = report } else { reports.append(report) }
        return true
    }

    /// Whether a report waits to be sent on `pathID`.
    func hasPendingReport(onPath pathID: UInt64) -> Bool {
        reports.contains { $0.pathID == pathID && $0.isPending }
    }

    /// The frame owed on `pathID`, if any.
    func pendingFrame(onPath pathID: UInt64) -> ObservedAddressFrame? {
        guard let report = reports.first(where: { $0.pathID == pathID && $0.isPending }) else { return nil }
        return ObservedAddressFrame(
            sequenceNumber: report.sequenceNumber, ipAddress: report.address.ipBytes, port: report.address.port)
    }

    /// The report for `pathID` went out in a packet on that path.
    mutating func markSent(onPath pathID: UInt64) {
        guard let index = reports.firstIndex(where: { $0.pathID == pathID }) else { return }
        reports[index].isPending = false
    }

    /// A packet carrying report `sequenceNumber` for `pathID` was declared lost. It is owed again only while it is
    /// still that path's latest report (§4.1: "SHOULD be retransmitted if lost", on the same path; RFC 9000 §13.3:
    /// repair with current information, not stale copies). A report replaced by a newer one, or whose path is
    /// gone, is not repeated.
    mutating func onReportLost(pathID: UInt64, sequenceNumber: UInt64) {
        guard let index = reports.firstIndex(where: { $0.pathID == pathID && $0.sequenceNumber == sequenceNumber })
        else { return }
        reports[index].isPending = true
    }

    /// The path was abandoned: nothing more is sent on it.
    mutating func forgetPath(_ pathID: UInt64) {
        reports.removeAll { $0.pathID == pathID }
    }

    // MARK: Receiving

    /// Applies an OBSERVED_ADDRESS from the peer and returns the new observed address when it changed.
    ///
    /// A frame whose sequence number is not above every one received before is ignored (§4.1: frames may arrive
    /// out of order). The sender numbers frames over the whole connection, so the highest number is its latest
    /// observation; Ferry keeps that one rather than one per path (docs/address-discovery.md).
    mutating func receive(_ frame: ObservedAddressFrame) -> NetworkAddress? {
        if let largest = largestReceivedSequenceNumber, frame.sequenceNumber <= largest { return nil }
        largestReceivedSequenceNumber = frame.sequenceNumber
        guard let address = NetworkAddress(ipBytes: frame.ipAddress, port: frame.port), address != observedAddress
        else { return nil }
        observedAddress = address
        return address
    }
}

/// QUIC Address Discovery (draft-ietf-quic-address-discovery-00): the connection's side of `AddressDiscovery`.
///
/// When this side provides observations and the peer asked for them, an OBSERVED_ADDRESS frame with the peer's
/// address on a path goes out on that path: on the handshake path once the handshake completes, on every path
/// the peer opens from a new address (NAT rebinding or migration) and every path the connection selects (§5).
/// The frame is ack-eliciting and, like PATH_CHALLENGE, a probing frame (§4.1, RFC 9000 §9.1); a lost one is
/// repeated on its path while it is still current. Received frames update `observedAddress` and raise
/// `ConnectionEvent.observedAddressChanged`.
extension TransportConnection {
    // MARK: Public API

    /// This endpoint's address and port as the peer last reported seeing them (its reflexive transport address,
    /// draft-ietf-quic-address-discovery-00); nil until the peer sent an OBSERVED_ADDRESS frame.
    ///
    /// The peer is not authenticated as an observer of the network: treat the value as a hint (§6.1).
    public var observedAddress: NetworkAddress? { addressDiscovery.observedAddress }

    // MARK: Connection hooks

    /// The peer's transport parameters arrived: decide whether to send, and owe the peer a report of its address
    /// on the handshake path (§5: "This also applies to the path used for the QUIC handshake").
    func startAddressDiscovery(peerMode: AddressDiscoveryMode?) {
        addressDiscovery.start(peerMode: peerMode)
        observeRemoteAddress(ofPathAt: pathTable.activeIndex)
    }

    /// Owes the peer a report of its address on the path at `index`: a new path, a newly selected one, or one
    /// whose remote address changed (§5). A no-op unless sending was negotiated.
    func observeRemoteAddress(ofPathAt index: Int) {
        guard pathTable.paths.indices.contains(index) else { return }
        let path = pathTable.paths[index]
        addressDiscovery.observe(path.remoteAddress, onPath: path.id)
    }

    /// Whether an OBSERVED_ADDRESS waits for a packet on the selected path.
    var hasPendingObservedAddress: Bool { addressDiscovery.hasPendingReport(onPath: pathTable.activeID) }

    /// Writes the OBSERVED_ADDRESS owed on the path at `index` into a packet sent on that path, and records it for
    /// loss recovery; returns whether it wrote one.
    func writeObservedAddress(
        onPathAt index: Int, into writer: inout ByteWriter, sentFrames: inout [SentFrame]
    ) -> Bool {
        guard pathTable.paths.indices.contains(index) else { return false }
        let pathID = pathTable.paths[index].id
        guard let frame = addressDiscovery.pendingFrame(onPath: pathID), frame.encodedLength <= writer.remaining
        else { return false }
        frame.encode(into: &writer)
        sentFrames.append(.observedAddress(pathID: pathID, sequenceNumber: frame.sequenceNumber))
        addressDiscovery.markSent(onPath: pathID)
        return true
    }

    /// A packet carrying an OBSERVED_ADDRESS was lost: owe it again if still current (§4.1).
    func onObservedAddressLost(pathID: UInt64, sequenceNumber: UInt64) {
        addressDiscovery.onReportLost(pathID: pathID, sequenceNumber: sequenceNumber)
    }

    /// The path left the path table: no report goes out on it any more.
    func forgetObservedAddress(ofPath pathID: UInt64) {
        addressDiscovery.forgetPath(pathID)
    }

    /// OBSERVED_ADDRESS from the peer (§4.1): a PROTOCOL_VIOLATION unless this side asked for observations;
    /// otherwise the newest observation wins and a change is reported to the application.
    func handleObservedAddress(_ frame: ObservedAddressFrame) throws(TransportError) {
        guard addressDiscovery.acceptsObservations else {
            throw TransportError(
                .protocolViolation, frameType: frame.frameType, reason: "OBSERVED_ADDRESS without address discovery")
        }
        if let address = addressDiscovery.receive(frame) {
            events.append(.observedAddressChanged(address))
        }
    }
}

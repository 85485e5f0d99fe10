/// Address validation inside a connection: the client's handling of Retry (RFC 9000 §17.2.5.2) and the token
/// in its Initials, the transport-parameter checks that follow a Retry (RFC 9000 §7.3), and NEW_TOKEN
/// (RFC 9000 §8.1.3) on both sides.
struct ConnectionAddressValidation {
    /// Client: the token sent in every Initial packet, from a Retry or an earlier NEW_TOKEN (RFC 9000 §17.2.2).
    var initialToken: [UInt8] = []
    /// Client: the Source Connection ID of the Retry processed, which the server's transport parameters must
    /// echo in retry_source_connection_id; nil when no Retry was processed (RFC 9000 §7.3).
    var retrySourceConnectionID: ConnectionID?
    /// Client: where tokens received in NEW_TOKEN are stored (the address `connect` was given).
    var tokenServerAddress: NetworkAddress?
    /// Client: a NEW_TOKEN token waiting for the endpoint to store it.
    var receivedNewToken: [UInt8]?
    /// Server: a NEW_TOKEN token waiting to be sent.
    var pendingNewToken: [UInt8]?
    /// Server: the token last sent, resent if its packet is lost (RFC 9000 §13.3).
    var sentNewToken: [UInt8]?

    /// Whether a Retry was already processed; a client accepts only one (RFC 9000 §17.2.5.2).
    var hasProcessedRetry: Bool { retrySourceConnectionID != nil }

    /// The longest token a client puts in its Initials. Every Initial carries the token (RFC 9000 §17.2.2) in a
    /// datagram of at most the path's size, so a longer one from a Retry or NEW_TOKEN would leave no room for
    /// CRYPTO or ACK frames: the client could send nothing at all, and an ACK it owed would keep its deadline in
    /// the past. RFC 9000 sets no limit; 512 bytes is far above what servers issue (Ferry's own are under 100)
    /// and leaves more than half of a 1200-byte Initial for frames.
    static let maxInitialTokenLength = 512
}

extension TransportConnection {
    /// A Retry packet (client only, RFC 9000 §17.2.5.2): check it, then restart the Initial exchange towards the
    /// server's new connection ID, with the token, new Initial keys and packet numbers that keep increasing.
    func handleRetry(_ header: PacketHeader, packet: ArraySlice<UInt8>, now: Instant) {
        guard side == .client, state == .handshaking, !addressValidation.hasProcessedRetry,
            space(.initial).received.largestReceived == nil, peerInitialSourceConnectionID == nil,
            !space(.initial).isDiscarded,
            header.version == QUICVersion.version1,
            header.destinationConnectionID == sourceConnectionID,
            // A Retry echoing our own Destination Connection ID as its source is invalid (§17.2.5.2).
            header.sourceConnectionID != destinationConnectionID,
            !header.retryToken.isEmpty,
            header.retryToken.count <= ConnectionAddressValidation.maxInitialTokenLength,
            RetryIntegrity.verify(
                retryPacket: Array(packet), originalDestinationConnectionID: originalDestinationConnectionID.bytes),
            let keys = try? context.config.crypto.makeInitialKeys(
                destinationConnectionID: header.sourceConnectionID.bytes, side: .client)
        else {
            counters.packetsDropped += 1
            return
        }
        addressValidation.retrySourceConnectionID = header.sourceConnectionID
        addressValidation.initialToken = Array(header.retryToken)
        peerConnectionIDs.replaceInitial(header.sourceConnectionID)
        let initial = space(.initial)
        initial.localKeys = keys.local
        initial.remoteKeys = keys.remote
        // The Retry implicitly acknowledges nothing and rejects every Initial sent so far (RFC 9002 §6.3): forget
        // them without a congestion signal and send the whole ClientHello again.
        _ = recovery.removeOutstandingPackets(in: .initial, now: now)
        initial.cryptoSend.requeueUnacknowledged()
    }

    /// RFC 9000 §7.3: retry_source_connection_id must be present exactly when a Retry was processed, and match it.
    func validateRetryParameter(_ parameters: TransportParameters) throws(TransportError) {
        guard parameters.retrySourceConnectionID == addressValidation.retrySourceConnectionID else {
            throw TransportError(
                .transportParameterError,
                reason: addressValidation.hasProcessedRetry
                    ? "retry_source_connection_id mismatch" : "unexpected retry_source_connection_id")
        }
    }

    /// A NEW_TOKEN frame (RFC 9000 §19.7): a protocol violation from a client; a client keeps the token for
    /// its next connection to this server.
    func handleNewToken(_ token: ArraySlice<UInt8>) throws(TransportError) {
        guard side == .client else {
            throw TransportError(.protocolViolation, frameType: 0x07, reason: "NEW_TOKEN from a client")
        }
        // A token too long to fit in an Initial is ignored, as a client may ignore any token (RFC 9000 §8.1.3).
        guard token.count <= ConnectionAddressValidation.maxInitialTokenLength else { return }
        addressValidation.receivedNewToken = Array(token)
    }

    /// Server: issue a NEW_TOKEN token once the handshake is confirmed (RFC 9000 §8.1.3).
    func queueNewToken(now: Instant) {
        guard side == .server, context.config.addressValidation.issuesNewTokens,
            let token = context.tokens.makeNewToken(remote: remoteAddress, now: now, random: &context.random)
        else { return }
        addressValidation.pendingNewToken = token
        addressValidation.sentNewToken = token
    }

    /// Whether a NEW_TOKEN frame waits to be sent.
    var hasPendingNewToken: Bool { addressValidation.pendingNewToken != nil }

    /// Writes the pending NEW_TOKEN frame if it fits; returns whether it did.
    func writeNewTokenFrame(writer: inout ByteWriter) -> Bool {
        guard let token = addressValidation.pendingNewToken else { return false }
        let frame = Frame.newToken(token: token[...])
        guard frame.encodedLength <= writer.remaining else { return false }
        frame.encode(into: &writer)
        sentFramesScratch.append(.newToken)
        addressValidation.pendingNewToken = nil
        return true
    }

    /// A packet carrying NEW_TOKEN was lost: send the token again (RFC 9000 §13.3).
    func onNewTokenLost() {
        guard addressValidation.pendingNewToken == nil, let token = addressValidation.sentNewToken else { return }
        addressValidation.pendingNewToken = token
    }
}

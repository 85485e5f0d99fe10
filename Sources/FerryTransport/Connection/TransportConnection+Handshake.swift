/// Driving the TLS handshake through `HandshakeSession` (RFC 9001 §4) and validating transport parameters
/// (RFC 9000 §7.3, §18).
extension TransportConnection {
    /// Builds the transport parameters this side advertises (RFC 9000 §18.2).
    static func makeLocalTransportParameters(
        config: TransportConfig,
        side: Side,
        sourceConnectionID: ConnectionID,
        originalDestinationConnectionID: ConnectionID?,
        resetToken: StatelessResetToken?
    ) -> TransportParameters {
        var parameters = TransportParameters()
        parameters.maxIdleTimeout = UInt64(config.maxIdleTimeout.nanosecondsClamped / 1_000_000)
        parameters.maxUDPPayloadSize = UInt64(max(1200, min(config.maxUDPPayloadSize, 65527)))
        parameters.initialMaxData = config.initialMaxData
        parameters.initialMaxStreamDataBidiLocal = config.initialMaxStreamData
        parameters.initialMaxStreamDataBidiRemote = config.initialMaxStreamData
        parameters.initialMaxStreamDataUni = config.initialMaxStreamData
        parameters.initialMaxStreamsBidi = config.maxConcurrentBidirectionalStreams
        parameters.initialMaxStreamsUni = config.maxConcurrentUnidirectionalStreams
        parameters.ackDelayExponent = UInt64(config.ackDelayExponent)
        parameters.maxAckDelay = UInt64(config.maxAckDelay.nanosecondsClamped / 1_000_000)
        parameters.disableActiveMigration = !config.allowsActiveMigration
        parameters.activeConnectionIDLimit = max(2, config.activeConnectionIDLimit)
        parameters.initialSourceConnectionID = sourceConnectionID
        parameters.maxDatagramFrameSize = config.maxDatagramFrameSize.map { UInt64($0) }
        parameters.addressDiscovery = config.addressDiscovery.transportParameterValue
        parameters.natTraversal = NATTraversal(config: config.natTraversal, side: side).localParameter
        if side == .server {
            parameters.originalDestinationConnectionID = originalDestinationConnectionID
            parameters.statelessResetToken = resetToken
        }
        return parameters
    }

    /// Maps a TLS failure to CRYPTO_ERROR (RFC 9001 §4.8).
    static func transportError(for error: HandshakeError) -> TransportError {
        TransportError(.crypto(alert: error.alert), frameType: 0x06, reason: error.reason)
    }

    /// Client: produces the ClientHello (the first `pollEvent`).
    func startHandshake(now: Instant) {
        do {
            try driveHandshake(now: now)
        } catch {
            closeWithError(error, now: now)
        }
    }

    /// Drains the session's events: CRYPTO data to send, keys to install, completion (RFC 9001 §4.1).
    func driveHandshake(now: Instant) throws(TransportError) {
        while true {
            let event: HandshakeEvent?
            do {
                event = try handshake.pollEvent()
            } catch {
                throw Self.transportError(for: error)
            }
            guard let event else {
                // Drained after confirmation: a server frees its TLS session (CompletedHandshake).
                if side == .server, isHandshakeConfirmed, !(handshake is CompletedHandshake) {
                    handshake = CompletedHandshake(of: handshake)
                }
                return
            }
            switch event {
            case .cryptoData(let bytes, let level):
                let space = space(level)
                if !space.isDiscarded { space.cryptoSend.append(bytes) }
            case .writeKeys(let protector, let level):
                let space = space(level)
                guard !space.isDiscarded else { continue }
                space.localKeys = protector
                if level == .handshake {
                    recovery.hasHandshakeKeys = true
                }
            case .readKeys(let protector, let level):
                let space = space(level)
                guard !space.isDiscarded else { continue }
                space.remoteKeys = protector
                processBufferedPackets(level: level, now: now)
            case .complete:
                try onHandshakeComplete(now: now)
            }
        }
    }

    /// The handshake completed: validate and apply the peer's transport parameters and announce the connection.
    private func onHandshakeComplete(now: Instant) throws(TransportError) {
        guard !isHandshakeComplete else { return }
        guard let encoded = handshake.peerTransportParameters else {
            throw TransportError(
                .crypto(alert: HandshakeError.missingExtension), reason: "peer sent no transport parameters")
        }
        let parameters: TransportParameters
        do {
            parameters = try TransportParameters.decode(encoded, sentBy: side.opposite)
        } catch {
            throw TransportError(.transportParameterError, reason: "malformed transport parameters")
        }
        try validateConnectionIDParameters(parameters)
        peerTransportParameters = parameters
        applyPeerParameters(parameters, now: now)
        isHandshakeComplete = true
        if state == .handshaking { state = .established }
        events.append(.handshakeCompleted)
        if side == .server {
            // The server's handshake is confirmed on completion (RFC 9001 §4.1.2).
            isHandshakeDonePending = true
            confirmHandshake(now: now)
            queueNewToken(now: now)
        }
    }

    /// RFC 9000 §7.3: the connection IDs each side used must match what the peer authenticated.
    private func validateConnectionIDParameters(_ parameters: TransportParameters) throws(TransportError) {
        guard parameters.initialSourceConnectionID == peerInitialSourceConnectionID else {
            throw TransportError(.transportParameterError, reason: "initial_source_connection_id mismatch")
        }
        if side == .client {
            guard parameters.originalDestinationConnectionID == originalDestinationConnectionID else {
                throw TransportError(.transportParameterError, reason: "original_destination_connection_id mismatch")
            }
            // retry_source_connection_id exactly when a Retry was processed (RFC 9000 §7.3).
            try validateRetryParameter(parameters)
        }
    }

    private func applyPeerParameters(_ parameters: TransportParameters, now: Instant) {
        streams.applyPeerParameters(parameters)
        drainStreamEvents()
        // Idle timeout: the minimum of both sides' non-zero values (RFC 9000 §10.1).
        let peerIdle: Duration? = parameters.maxIdleTimeout > 0
            ? .milliseconds(Int64(clamping: parameters.maxIdleTimeout)) : nil
        let localIdle: Duration? = config.maxIdleTimeout > .zero ? config.maxIdleTimeout : nil
        switch (localIdle, peerIdle) {
        case (let local?, let peer?): idleTimeout = min(local, peer)
        case (let local?, nil): idleTimeout = local
        case (nil, let peer?): idleTimeout = peer
        case (nil, nil): idleTimeout = nil
        }
        idleDeadline = nil
        restartIdleTimer(now: now)
        recovery.peerMaxAckDelay = .milliseconds(Int64(clamping: parameters.maxAckDelay))
        peerConnectionIDs.setInitialResetToken(parameters.statelessResetToken)
        if let token = parameters.statelessResetToken { endpointActions.append(.addResetToken(token)) }
        startAddressDiscovery(peerMode: parameters.addressDiscovery)
        startNATTraversal(peerParameter: parameters.natTraversal)
    }

    /// The handshake is confirmed (RFC 9001 §4.1.2): discard Handshake keys (§4.9.2), issue connection IDs,
    /// and allow larger datagrams.
    func confirmHandshake(now: Instant) {
        guard !isHandshakeConfirmed else { return }
        isHandshakeConfirmed = true
        recovery.isHandshakeConfirmed = true
        recovery.hasPeerCompletedAddressValidation = true
        if !space(.initial).isDiscarded { discardSpace(.initial, now: now) }
        if !space(.handshake).isDiscarded { discardSpace(.handshake, now: now) }
        onPathConfirmed(now: now)
        issueConnectionIDs()
        recovery.rearmTimer(now: now)
    }

    /// Discards a packet-number space's keys and recovery state (RFC 9001 §4.9, RFC 9002 §6.4).
    func discardSpace(_ level: EncryptionLevel, now: Instant) {
        space(level).discard()
        recovery.discard(space: level.packetNumberSpace, now: now)
        bufferedPackets.removeAll { $0.level == level }
    }

    /// Sets the pacer's rate from the congestion controller (RFC 9002 §7.7).
    ///
    /// The burst is about 2 ms worth of the window (10…256 datagrams, as quinn does), so a runtime whose timers
    /// fire with sub-millisecond jitter is not held below the window by one wake-up per ten packets.
    func updatePacing() {
        let controller = recovery.congestionController
        let smoothed = max(recovery.rtt.smoothedRTT.nanosecondsClamped, 1)
        let burstBytes = UInt64(controller.congestionWindow) * 2_000_000 / smoothed
        let burstPackets = Int(clamping: burstBytes / UInt64(max(controller.maxDatagramSize, 1)))
        pacer.update(congestionController: controller, burstPackets: min(max(burstPackets, 10), 256))
    }
}

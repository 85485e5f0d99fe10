/// Dispatch of decoded frames to the parts of the connection that own them (RFC 9000 §19).
extension TransportConnection {
    /// Applies one frame received at `level`. Throws the transport error to close the connection with.
    func handleFrame(_ frame: Frame, level: EncryptionLevel, now: Instant) throws(TransportError) {
        switch frame {
        case .padding, .ping:
            break
        case .ack(let ack):
            try handleAck(ack, level: level, now: now)
        case .crypto(let offset, let data):
            try handleCrypto(offset: offset, data: data, level: level, now: now)
        case .stream, .resetStream, .stopSending, .maxData, .maxStreamData, .maxStreams, .dataBlocked,
            .streamDataBlocked, .streamsBlocked:
            try streams.handle(frame)
            drainStreamEvents()
        case .newToken(let token):
            // Only servers send NEW_TOKEN (RFC 9000 §19.7); clients keep it for the next connection.
            try handleNewToken(token)
        case .newConnectionID(let newID):
            try peerConnectionIDs.add(newID, limit: localTransportParameters.activeConnectionIDLimit)
            endpointActions.append(.addResetToken(newID.statelessResetToken))
        case .retireConnectionID(let sequenceNumber):
            try handleRetireConnectionID(sequenceNumber: sequenceNumber, now: now)
        case .pathChallenge(let data):
            handlePathChallenge(data, now: now)
        case .pathResponse(let data):
            handlePathResponse(data, now: now)
        case .connectionClose(let close):
            handlePeerClose(close, now: now)
        case .handshakeDone:
            guard side == .client else {
                throw TransportError(.protocolViolation, frameType: 0x1e, reason: "HANDSHAKE_DONE from a client")
            }
            confirmHandshake(now: now)
        case .datagram(let data):
            try handleDatagramFrame(data)
        case .observedAddress(let observed):
            try handleObservedAddress(observed)
        case .addAddress, .punchMeNow, .removeAddress:
            try handleNATTraversalFrame(frame, now: now)
        }
    }

    private func handleAck(_ ack: AckFrame, level: EncryptionLevel, now: Instant) throws(TransportError) {
        if level == .application { try validateAckKeyPhase(ack) }
        let peerExponent = UInt8(clamping: peerTransportParameters?.ackDelayExponent ?? 3)
        let peerMaxAckDelay = Duration.milliseconds(Int64(clamping: peerTransportParameters?.maxAckDelay ?? 25))
        let result = try recovery.onAckReceived(
            ack, space: level.packetNumberSpace, ackDelayExponent: peerExponent, maxAckDelay: peerMaxAckDelay,
            now: now)
        let space = space(level)
        if let largest = result.newlyAcknowledged.last?.packetNumber {
            space.largestAckedPacket = max(space.largestAckedPacket ?? 0, largest)
        }
        for packet in result.newlyAcknowledged {
            for frame in packet.frames {
                onFrameAcknowledged(frame, space: space)
            }
        }
        onPacketsLost(result.lost, level: level)
        onPathPacketsSettled(acknowledged: result.newlyAcknowledged, lost: result.lost, level: level)
        finishDrainingPaths()
        updatePacing()
        // Acknowledged stream data frees send buffers: `streamWritable` events may follow.
        drainStreamEvents()
    }

    /// The peer received a frame: release what it held.
    private func onFrameAcknowledged(_ frame: SentFrame, space: PacketSpace) {
        switch frame {
        case .ack(let largestAcknowledged):
            space.received.onAckOfAck(largestAcknowledged: largestAcknowledged)
        case .crypto, .handshakeDone, .ping, .pathResponse, .pathChallenge, .newToken, .datagram, .observedAddress,
            .addAddress, .removeAddress, .punchMeNow:
            break
        case .newConnectionID, .retireConnectionID:
            break
        default:
            streams.onAcknowledged(frame)
        }
    }

    /// Reschedules what lost packets carried (RFC 9000 §13.3): current state, not stale copies.
    func onPacketsLost(_ packets: [SentPacket], level: EncryptionLevel) {
        guard !packets.isEmpty else { return }
        counters.packetsLost += UInt64(packets.count)
        let space = space(level)
        for packet in packets {
            for frame in packet.frames {
                switch frame {
                case .crypto(_, let offset, let length):
                    space.cryptoSend.onLost(offset: offset, length: length)
                case .handshakeDone:
                    isHandshakeDonePending = true
                case .newConnectionID(let sequenceNumber):
                    if localConnectionIDs.lookup(sequenceNumber: sequenceNumber) != nil {
                        localConnectionIDs.pendingAnnouncements.append(sequenceNumber)
                    }
                case .retireConnectionID(let sequenceNumber):
                    peerConnectionIDs.pendingRetirements.append(sequenceNumber)
                case .newToken:
                    onNewTokenLost()
                case .observedAddress(let pathID, let sequenceNumber):
                    onObservedAddressLost(pathID: pathID, sequenceNumber: sequenceNumber)
                case .addAddress, .removeAddress, .punchMeNow:
                    onNATTraversalFrameLost(frame)
                case .ack, .ping, .pathResponse, .pathChallenge, .datagram:
                    break
                default:
                    streams.onLost(frame)
                }
            }
        }
    }

    private func handleCrypto(
        offset: UInt64, data: ArraySlice<UInt8>, level: EncryptionLevel, now: Instant
    ) throws(TransportError) {
        let space = space(level)
        let bytes = try space.cryptoReceive.insert(offset: offset, data: data)
        guard !bytes.isEmpty else { return }
        var failure: HandshakeError?
        bytes.withUnsafeBytes { buffer in
            do throws(HandshakeError) {
                try handshake.receive(cryptoData: buffer, level: level)
            } catch {
                failure = error
            }
        }
        if let failure { throw Self.transportError(for: failure) }
        try driveHandshake(now: now)
    }

    private func handleRetireConnectionID(sequenceNumber: UInt64, now: Instant) throws(TransportError) {
        guard let retired = try localConnectionIDs.retire(
            sequenceNumber: sequenceNumber, usedConnectionID: pathTable.currentLocalConnectionID)
        else { return }
        endpointActions.append(.removeConnectionID(retired))
        // Keep the peer supplied with IDs up to its limit (RFC 9000 §5.1.1).
        issueConnectionIDs()
    }

    private func handleDatagramFrame(_ data: ArraySlice<UInt8>) throws(TransportError) {
        guard let limit = config.maxDatagramFrameSize else {
            throw TransportError(.protocolViolation, frameType: 0x30, reason: "DATAGRAM not negotiated")
        }
        // The limit covers the whole frame (RFC 9221 §3); allow the frame header.
        guard data.count + 1 + VarInt.encodedLength(UInt64(data.count)) <= limit else {
            throw TransportError(.protocolViolation, frameType: 0x31, reason: "DATAGRAM exceeds the advertised limit")
        }
        guard incomingDatagrams.count < config.datagramReceiveQueueLimit else { return }
        let wasEmpty = incomingDatagrams.isEmpty
        incomingDatagrams.append(Array(data))
        if wasEmpty { events.append(.datagramReceived) }
    }

    /// Issues NEW_CONNECTION_ID frames until the peer holds as many of our IDs as it allows (RFC 9000 §5.1.1).
    func issueConnectionIDs() {
        guard isHandshakeConfirmed || (side == .server && isHandshakeComplete) else { return }
        let peerLimit = min(peerTransportParameters?.activeConnectionIDLimit ?? 2, 8)
        while UInt64(localConnectionIDs.activeCount) < peerLimit {
            let connectionID = context.makeConnectionID()
            _ = localConnectionIDs.add(
                connectionID, resetToken: context.resetToken(for: connectionID), announce: true)
            endpointActions.append(.addConnectionID(connectionID))
        }
    }

    /// Moves stream-layer events into the connection's event queue.
    func drainStreamEvents() {
        while let event = streams.pollEvent() {
            switch event {
            case .opened(let id): events.append(.streamOpened(id))
            case .readable(let id): events.append(.streamReadable(id))
            case .writable(let id): events.append(.streamWritable(id))
            case .stopped(let id, let errorCode): events.append(.streamStopped(id, errorCode: errorCode))
            case .reset(let id, let errorCode): events.append(.streamReset(id, errorCode: errorCode))
            case .streamsAvailable(let bidirectional): events.append(.streamsAvailable(bidirectional: bidirectional))
            }
        }
    }
}

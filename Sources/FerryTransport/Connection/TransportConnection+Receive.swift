/// The receive path: datagram → coalesced packets → header protection removal → decryption → frames.
///
/// Decryption happens in place in the datagram buffer (RFC 9001 §5). Undecryptable packets are dropped (RFC 9001
/// §5.5), except that a few Handshake/1-RTT packets arriving before their keys are buffered (RFC 9001 §5.7).
/// Any protocol violation by the peer closes the connection with the matching transport error; nothing traps.
extension TransportConnection {
    /// Processes one UDP datagram addressed to this connection.
    func handle(datagram: inout [UInt8], from remote: NetworkAddress, ecn: UInt8 = 0, now: Instant) {
        guard state != .closed, state != .draining else { return }
        if state == .closing {
            // A closing endpoint only answers with CONNECTION_CLOSE (RFC 9000 §10.2.1).
            isClosePending = true
            return
        }
        counters.bytesReceived += UInt64(datagram.count)
        // Only datagrams from the selected path's address raise its anti-amplification budget (RFC 9000 §8.1).
        if !isAddressValidated && remote == remoteAddress { amplificationBytesReceived += UInt64(datagram.count) }
        beginPathDatagram(from: remote)
        var offset = 0
        var firstDestination: ConnectionID?
        while offset < datagram.count, state != .closed, state != .draining {
            let header: PacketHeader
            do {
                header = try PacketHeader.parse(
                    datagram, at: offset, shortHeaderConnectionIDLength: context.config.connectionIDLength)
            } catch {
                counters.packetsDropped += 1
                break
            }
            // Coalesced packets must share the first packet's Destination Connection ID: others are ignored
            // (RFC 9000 §12.2), so one datagram cannot mix two of our IDs (and two paths' identities).
            let end = header.packetEnd
            if let firstDestination, header.destinationConnectionID != firstDestination {
                counters.packetsDropped += 1
                offset = end
                continue
            }
            firstDestination = header.destinationConnectionID
            let receivedBefore = counters.packetsReceived
            processPacket(header, start: offset, datagram: &datagram, ecn: ecn, now: now)
            if counters.packetsReceived > receivedBefore {
                onPathPacketAuthenticated(
                    from: remote, header: header, datagramSize: offset == 0 ? datagram.count : 0, now: now)
            } else if offset == 0 && !header.isLongHeader {
                detectStatelessReset(datagram)
            }
            offset = end
        }
    }

    /// RFC 9000 §10.3.1: an undecryptable short-header datagram ending in one of the peer's stateless reset
    /// tokens means the peer lost our state: the connection is over, silently.
    private func detectStatelessReset(_ datagram: [UInt8]) {
        guard datagram.count >= 21, state != .closed, state != .draining,
            let token = StatelessResetToken(datagram[(datagram.count - 16)...]),
            peerConnectionIDs.matchesResetToken(token)
        else { return }
        handleStatelessReset()
    }

    /// The peer reset the connection: close without sending anything (RFC 9000 §10.3.1).
    func handleStatelessReset() {
        guard state != .closed, state != .draining else { return }
        closeReason = .statelessReset
        enterClosed(now: .zero)
    }

    /// Handles one packet of a datagram at `start..<header.packetEnd`.
    private func processPacket(
        _ header: PacketHeader, start: Int, datagram: inout [UInt8], ecn: UInt8, now: Instant
    ) {
        let level: EncryptionLevel
        switch header.type {
        case .initial: level = .initial
        case .handshake: level = .handshake
        case .oneRTT: level = .application
        case .versionNegotiation:
            handleVersionNegotiation(header, now: now)
            return
        case .retry:
            handleRetry(header, packet: datagram[start..<header.packetEnd], now: now)
            return
        case .zeroRTT:
            // No 0-RTT support: drop.
            counters.packetsDropped += 1
            return
        }
        guard header.isVersionSupported else {
            counters.packetsDropped += 1
            return
        }
        if level == .initial && side == .client && header.token.count > 0 {
            // A server must not send a token in Initial packets (RFC 9000 §17.2.2): drop.
            counters.packetsDropped += 1
            return
        }
        let space = space(level)
        guard !space.isDiscarded else {
            counters.packetsDropped += 1
            return
        }
        guard let remoteKeys = space.remoteKeys else {
            if level != .initial && bufferedPackets.count < Self.maxBufferedPackets {
                bufferedPackets.append((Array(datagram[start..<header.packetEnd]), level))
            } else {
                counters.packetsDropped += 1
            }
            return
        }

        // Remove header protection (RFC 9001 §5.4.2): the sample starts 4 bytes after the packet number.
        let packetNumberOffset = header.packetNumberOffset
        let sampleLength = remoteKeys.sampleLength
        guard packetNumberOffset + 4 + sampleLength <= header.packetEnd else {
            counters.packetsDropped += 1
            return
        }
        let isLong = header.isLongHeader
        let unprotected: (packetNumber: UInt64, payloadStart: Int, firstByte: UInt8, truncatedPN: UInt64, pnLength: Int)?
        unprotected = datagram.withUnsafeMutableBytes { buffer in
            let sample = UnsafeRawBufferPointer(
                rebasing: buffer[(packetNumberOffset + 4)..<(packetNumberOffset + 4 + sampleLength)])
            guard let mask = try? remoteKeys.headerProtectionMask(sample: sample) else { return nil }
            let firstByte = header.firstByte ^ (mask.first & (isLong ? 0x0f : 0x1f))
            let pnLength = Int(firstByte & 0x03) + 1
            let maskBytes = mask.packetNumber
            var truncated: UInt64 = 0
            for index in 0..<pnLength {
                let maskByte = switch index {
                case 0: maskBytes.0
                case 1: maskBytes.1
                case 2: maskBytes.2
                default: maskBytes.3
                }
                let byte = buffer[packetNumberOffset + index] ^ maskByte
                buffer[packetNumberOffset + index] = byte
                truncated = truncated << 8 | UInt64(byte)
            }
            buffer[start] = firstByte
            return (0, packetNumberOffset + pnLength, firstByte, truncated, pnLength)
        }
        guard let unprotected else {
            counters.packetsDropped += 1
            return
        }
        let packetNumber = PacketNumber.decode(
            truncated: unprotected.truncatedPN, length: unprotected.pnLength,
            largestReceived: space.received.largestReceived)

        // Choose the read keys: the key phase bit may signal a key update (RFC 9001 §6).
        var keys = remoteKeys
        var isKeyUpdate = false
        if !isLong {
            let phase = unprotected.firstByte & 0x04 != 0
            if phase != keyPhase {
                guard let selected = readKeysForOtherPhase(packetNumber: packetNumber) else {
                    counters.packetsDropped += 1
                    return
                }
                (keys, isKeyUpdate) = selected
            }
        }

        let payloadStart = unprotected.payloadStart
        let end = header.packetEnd
        let plaintextLength: Int
        do {
            plaintextLength = try datagram.withUnsafeMutableBytes { buffer throws(PacketProtectionError) in
                try keys.open(
                    packetNumber: packetNumber, buffer: buffer, headerStart: start, payloadStart: payloadStart,
                    end: end)
            }
        } catch {
            // RFC 9001 §5.5/§9.5: an undecryptable packet is dropped; it counts toward the integrity limit (§6.6).
            counters.packetsDropped += 1
            onPacketAuthenticationFailed(now: now)
            return
        }

        // Reserved bits must be zero after header protection removal (RFC 9000 §17.2, §17.3.1).
        let reservedBits = unprotected.firstByte & (isLong ? 0x0c : 0x18)
        if reservedBits != 0 {
            closeWithError(TransportError(.protocolViolation, reason: "reserved header bits set"), now: now)
            return
        }
        if space.received.isDuplicate(packetNumber) {
            counters.packetsDropped += 1
            return
        }
        if isLong {
            keyUpdate.isOpenedWithPreviousKeys = false
        } else {
            let phase = unprotected.firstByte & 0x04 != 0
            guard onShortHeaderPacketOpened(packetNumber: packetNumber, phase: phase, isKeyUpdate: isKeyUpdate, now: now)
            else { return }
        }

        counters.packetsReceived += 1
        beginPathPacket(
            packetNumber: packetNumber, largestReceived: space.received.largestReceived,
            destination: header.destinationConnectionID)
        onPacketAuthenticated(header, level: level, now: now)
        guard state != .closed, state != .draining else { return }

        let isAckEliciting = processFrames(
            datagram: datagram, range: payloadStart..<(payloadStart + plaintextLength), packetType: header.type,
            level: level, now: now)
        guard let isAckEliciting else { return }
        space.received.onPacketReceived(packetNumber: packetNumber, isAckEliciting: isAckEliciting, ecn: ecn, now: now)
        // Closing endpoints answer packets with CONNECTION_CLOSE (RFC 9000 §10.2.1).
        if state == .closing { isClosePending = true }
    }

    /// Bookkeeping once a packet decrypted: idle timer, address validation, key discard, peer CIDs.
    private func onPacketAuthenticated(_ header: PacketHeader, level: EncryptionLevel, now: Instant) {
        // Any authenticated packet restarts the idle timer (RFC 9000 §10.1).
        restartIdleTimer(now: now)
        isFirstAckElicitingSinceReceive = true
        if header.isLongHeader, peerInitialSourceConnectionID == nil, side == .client, level == .initial {
            // The client switches to the server's chosen connection ID (RFC 9000 §7.2).
            peerInitialSourceConnectionID = header.sourceConnectionID
            peerConnectionIDs.replaceInitial(header.sourceConnectionID)
        }
        if side == .server && level == .handshake {
            // A Handshake packet proves the client's address (RFC 9000 §8.1) and ends Initial (RFC 9001 §4.9.1).
            isAddressValidated = true
            if !space(.initial).isDiscarded {
                discardSpace(.initial, now: now)
            }
        }
    }

    /// Decodes and dispatches the frames of one packet; returns whether it was ack-eliciting, or nil if the
    /// connection closed because of it.
    private func processFrames(
        datagram: [UInt8],
        range: Range<Int>,
        packetType: PacketType,
        level: EncryptionLevel,
        now: Instant
    ) -> Bool? {
        var reader = ByteReader(datagram, range: range)
        var isAckEliciting = false
        var frameCount = 0
        while !reader.isAtEnd {
            let frame: Frame
            do {
                frame = try Frame.decode(from: &reader)
            } catch {
                closeWithError(
                    TransportError(TransportError.Code(rawValue: error.transportErrorCode), reason: "malformed frame"),
                    now: now)
                return nil
            }
            frameCount += 1
            guard frame.isAllowed(in: packetType) else {
                closeWithError(
                    TransportError(
                        .protocolViolation, frameType: frame.frameType, reason: "frame not allowed in \(packetType)"),
                    now: now)
                return nil
            }
            if frame.isAckEliciting { isAckEliciting = true }
            if !frame.isProbing { pathTable.currentPacketIsNonProbing = true }
            do {
                try handleFrame(frame, level: level, now: now)
            } catch {
                closeWithError(error, now: now)
                return nil
            }
            if state == .closed || state == .draining { return nil }
        }
        if frameCount == 0 {
            // A packet without frames is a PROTOCOL_VIOLATION (RFC 9000 §12.4).
            closeWithError(TransportError(.protocolViolation, reason: "packet without frames"), now: now)
            return nil
        }
        return isAckEliciting
    }

    /// A Version Negotiation packet (client only, RFC 9000 §6.2).
    private func handleVersionNegotiation(_ header: PacketHeader, now: Instant) {
        // Not after any other packet was processed, a Retry included (RFC 9000 §6.2).
        guard side == .client, state == .handshaking, space(.initial).received.largestReceived == nil,
            !addressValidation.hasProcessedRetry
        else { return }
        // Ignore VN that lists our version (RFC 9000 §6.2) or that does not echo our connection IDs.
        guard !header.supportedVersions.contains(QUICVersion.version1),
            header.destinationConnectionID == sourceConnectionID,
            header.sourceConnectionID == originalDestinationConnectionID
        else { return }
        closeReason = .versionNegotiationFailed
        enterClosed(now: now)
    }

    /// Re-runs packets that arrived before their keys, once keys for `level` are installed (RFC 9001 §5.7).
    func processBufferedPackets(level: EncryptionLevel, now: Instant) {
        guard bufferedPackets.contains(where: { $0.level == level }) else { return }
        let ready = bufferedPackets.filter { $0.level == level }
        bufferedPackets.removeAll { $0.level == level }
        for packet in ready {
            var bytes = packet.bytes
            handle(datagram: &bytes, from: remoteAddress, now: now)
            // Buffered packets were already counted once.
            counters.bytesReceived -= UInt64(packet.bytes.count)
            if !isAddressValidated { amplificationBytesReceived -= UInt64(packet.bytes.count) }
        }
    }
}

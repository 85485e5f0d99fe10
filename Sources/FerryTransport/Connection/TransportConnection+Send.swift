/// The send path: fills the caller's buffer with one UDP datagram of coalesced packets (RFC 9000 §12.2).
///
/// Packets are written in place: header, frames (stream bytes copied once, straight from the send buffer), then
/// sealed and header-protected in the same buffer (RFC 9001 §5). Datagrams carrying a client Initial (or a
/// server's ack-eliciting Initial) are padded to 1200 bytes (RFC 9000 §14.1); a server that has not validated the
/// client's address sends at most three times what it received (RFC 9000 §8.1).
extension TransportConnection {
    /// A packet whose frames are written but which is not yet sealed, so the last packet of a datagram can
    /// still be padded.
    struct OpenPacket {
        var level: EncryptionLevel
        var headerStart: Int
        var lengthOffset: Int?
        var packetNumberOffset: Int
        var packetNumberLength: Int
        var packetNumber: UInt64
        var payloadEnd: Int
        var isAckEliciting: Bool
        var frameCount: Int
        /// A DPLPMTUD probe (TransportConnection+MTU).
        var isMTUProbe = false
    }

    /// The smallest datagram worth building.
    static let minimumPacketBudget = 48

    /// Writes the next datagram into `buffer`; returns its size, or nil when there is nothing to send now.
    func pollTransmit(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        initiateKeyUpdateIfDue(now: now)
        // Path validation datagrams go first, possibly to another path (TransportConnection+Paths.swift).
        if let size = pollPathProbe(now: now, into: buffer) { return size }
        switch state {
        case .closed, .draining:
            return nil
        case .closing:
            return isClosePending ? writeClosePackets(now: now, into: buffer) : nil
        case .handshaking, .established:
            break
        }
        let sizeLimit = datagramSizeLimit(bufferCount: buffer.count)
        var limit = sizeLimit
        if !isAddressValidated {
            let budget = amplificationBytesReceived * 3
            let remaining = budget > amplificationBytesSent ? Int(clamping: budget - amplificationBytesSent) : 0
            limit = min(limit, remaining)
            let isLimited = limit < Self.minimumPacketBudget
            if recovery.isAmplificationLimited != isLimited {
                recovery.isAmplificationLimited = isLimited
                recovery.rearmTimer(now: now)
            }
            if isLimited { return nil }
        }

        let controller = recovery.congestionController
        let mayUseWindow = controller.canSend(bytes: limit)
        pacingDeadline = nil
        let pacingRelease = pacer.nextSendTime(now: now, packetSize: limit)
        let mayPace = pacingRelease == nil
        // No PMTU probes beyond the anti-amplification limit of an unvalidated path (RFC 9000 §8.1, §9.3).
        if mayUseWindow, mayPace, isAddressValidated, let size = writeMTUProbeIfDue(now: now, into: buffer) {
            return size
        }

        var packets: (OpenPacket?, OpenPacket?, OpenPacket?) = (nil, nil, nil)
        var position = 0
        var containsPaddedInitial = false
        var isSomethingUnwritten = false
        for level in EncryptionLevel.allCases {
            let space = spaces[level.rawValue]
            guard !space.isDiscarded, space.localKeys != nil else { continue }
            let isProbe = space.probesOwed > 0
            // Handshake levels are not paced; application data waits for the pacer (RFC 9002 §7.7).
            let mayWriteData = isProbe || (mayUseWindow && (level != .application || mayPace))
            if level == .application, !mayWriteData, mayUseWindow, let pacingRelease,
                spaceWantsToSend(space, now: now, mayWriteData: true)
            {
                // Data is waiting only for the pacer: wake up when it allows the next packet.
                pacingDeadline = pacingRelease
            }
            guard spaceWantsToSend(space, now: now, mayWriteData: mayWriteData) else { continue }
            guard let packet = writePacket(
                space: space, buffer: buffer, at: position, limit: limit, mayWriteData: mayWriteData, now: now)
            else {
                isSomethingUnwritten = true
                continue
            }
            position = packet.payloadEnd + (space.localKeys?.tagLength ?? 16)
            if level == .initial && (side == .client || packet.isAckEliciting) {
                containsPaddedInitial = true
            }
            if isProbe && packet.isAckEliciting { space.probesOwed -= 1 }
            switch level {
            case .initial: packets.0 = packet
            case .handshake: packets.1 = packet
            case .application: packets.2 = packet
            }
            if level == .application { break }
        }
        guard packets.0 != nil || packets.1 != nil || packets.2 != nil else {
            if isSomethingUnwritten && limit < sizeLimit { onAmplificationBudgetTooSmall(now: now) }
            return nil
        }

        // Pad the last packet so the datagram reaches 1200 bytes when it carries an Initial (RFC 9000 §14.1).
        let padTarget = containsPaddedInitial ? min(1200, limit) : 0
        var size = 0
        var sentHandshake = false
        if var packet = packets.0 {
            if packets.1 == nil && packets.2 == nil { pad(&packet, to: padTarget, buffer: buffer) }
            size = seal(packet, buffer: buffer, now: now)
        }
        if var packet = packets.1 {
            if packets.2 == nil { pad(&packet, to: padTarget, buffer: buffer) }
            size = seal(packet, buffer: buffer, now: now)
            sentHandshake = true
        }
        if var packet = packets.2 {
            var target = padTarget
            if let threshold = segmentPaddingThreshold, packets.0 == nil, packets.1 == nil,
                packet.payloadEnd + (space(.application).localKeys?.tagLength ?? 16) >= threshold
            {
                target = buffer.count
            }
            pad(&packet, to: target, buffer: buffer)
            size = seal(packet, buffer: buffer, now: now)
        }
        counters.bytesSent += UInt64(size)
        recordPathDatagramSent(size: size)
        if !isAddressValidated { amplificationBytesSent += UInt64(size) }
        if packets.2 != nil { pacer.onPacketSent(size: size, now: now) }
        // The client discards Initial keys once it sends a Handshake packet (RFC 9001 §4.9.1).
        if sentHandshake && side == .client && !space(.initial).isDiscarded {
            discardSpace(.initial, now: now)
        }
        return size
    }

    /// Counts the connection as blocked by the anti-amplification limit when what is left of the budget is above
    /// `minimumPacketBudget` yet too small for any packet that wants out: a long header with both connection IDs,
    /// an ACK with large packet numbers and the AEAD tag can need more. Otherwise an ACK that is due keeps its
    /// deadline in the past and `nextTimeout` returns it forever, so the caller's timer spins without anything being
    /// sent; blocked, the server waits for more bytes from the client instead, and arms no PTO (RFC 9000 §8.1,
    /// RFC 9002 §6.2.2.1). The next `pollTransmit` recomputes the flag from the budget.
    private func onAmplificationBudgetTooSmall(now: Instant) {
        guard !recovery.isAmplificationLimited else { return }
        recovery.isAmplificationLimited = true
        recovery.rearmTimer(now: now)
    }

    /// Whether `space` has anything to put in a packet now.
    private func spaceWantsToSend(_ space: PacketSpace, now: Instant, mayWriteData: Bool) -> Bool {
        if space.received.isAckDue(now: now) { return true }
        guard mayWriteData else { return false }
        if space.probesOwed > 0 || space.cryptoSend.hasPendingData { return true }
        guard space.level == .application, isHandshakeComplete || side == .server else { return false }
        guard isHandshakeComplete else { return false }
        return isHandshakeDonePending || !pendingPathResponses.isEmpty
            || !localConnectionIDs.pendingAnnouncements.isEmpty || !peerConnectionIDs.pendingRetirements.isEmpty
            || isKeepAlivePending || !outgoingDatagrams.isEmpty || streams.hasPendingTransmit || hasPendingNewToken
            || hasPendingObservedAddress || hasPendingNATTraversalFrames
    }

    /// Writes the header and frames of one packet at `start`; nil if nothing was worth sending.
    private func writePacket(
        space: PacketSpace,
        buffer: UnsafeMutableRawBufferPointer,
        at start: Int,
        limit: Int,
        mayWriteData: Bool,
        now: Instant
    ) -> OpenPacket? {
        guard let keys = space.localKeys else { return nil }
        let tagLength = keys.tagLength
        let packetNumber = space.nextPacketNumber
        let packetNumberLength = PacketNumber.encodedLength(
            packetNumber: packetNumber, largestAcknowledged: space.largestAckedPacket)
        let isLong = space.level != .application
        let headerLength = isLong
            ? PacketWriter.longHeaderLength(
                type: space.packetType, destinationConnectionID: destinationConnectionID,
                sourceConnectionID: sourceConnectionID, tokenLength: addressValidation.initialToken.count,
                packetNumberLength: packetNumberLength)
            : PacketWriter.shortHeaderLength(
                destinationConnectionID: destinationConnectionID, packetNumberLength: packetNumberLength)
        let payloadLimit = limit - tagLength
        guard payloadLimit - start >= headerLength + 8 else { return nil }

        var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<payloadLimit]), position: start)
        var lengthOffset: Int?
        if isLong {
            lengthOffset = PacketWriter.writeLongHeader(
                into: &writer, type: space.packetType, version: QUICVersion.version1,
                destinationConnectionID: destinationConnectionID, sourceConnectionID: sourceConnectionID,
                token: addressValidation.initialToken, packetNumber: packetNumber,
                packetNumberLength: packetNumberLength)
        } else {
            PacketWriter.writeShortHeader(
                into: &writer, destinationConnectionID: destinationConnectionID, packetNumber: packetNumber,
                packetNumberLength: packetNumberLength, keyPhase: keyPhase)
        }
        let packetNumberOffset = writer.position - packetNumberLength
        let payloadStart = writer.position
        sentFramesScratch.removeAll(keepingCapacity: true)
        let isAckEliciting = writeFrames(space: space, writer: &writer, mayWriteData: mayWriteData, now: now)
        guard writer.position > payloadStart else { return nil }
        space.nextPacketNumber += 1
        let packet = OpenPacket(
            level: space.level, headerStart: start, lengthOffset: lengthOffset,
            packetNumberOffset: packetNumberOffset, packetNumberLength: packetNumberLength,
            packetNumber: packetNumber, payloadEnd: writer.position, isAckEliciting: isAckEliciting,
            frameCount: sentFramesScratch.count)
        // Record the frames now; the scratch array is reused for the next packet of the datagram.
        pendingSentFrames[space.level.rawValue] = Array(sentFramesScratch[...])
        return packet
    }

    /// Writes the frames of one packet; returns whether any is ack-eliciting.
    private func writeFrames(
        space: PacketSpace, writer: inout ByteWriter, mayWriteData: Bool, now: Instant
    ) -> Bool {
        var isAckEliciting = false
        // ACK first: always include one when there is news, so the peer's recovery progresses (RFC 9000 §13.2).
        if space.received.hasUnacknowledgedPackets,
            let ack = space.received.makeAckFrame(now: now, ackDelayExponent: config.ackDelayExponent)
        {
            let fitted = ack.encodedLength <= writer.remaining ? ack : ack.truncated(toFit: writer.remaining)
            if let fitted {
                fitted.encode(into: &writer)
                sentFramesScratch.append(.ack(largestAcknowledged: fitted.largestAcknowledged))
                space.received.onAckSent()
                if space.level == .application { onApplicationAckSent(largestAcknowledged: fitted.largestAcknowledged) }
            }
        }
        guard mayWriteData else { return false }

        if space.level == .application && isHandshakeComplete {
            if isHandshakeDonePending && writer.remaining >= 1 {
                Frame.handshakeDone.encode(into: &writer)
                sentFramesScratch.append(.handshakeDone)
                isHandshakeDonePending = false
                isAckEliciting = true
            }
            while let data = pendingPathResponses.first, writer.remaining >= 9 {
                Frame.pathResponse(data: data).encode(into: &writer)
                sentFramesScratch.append(.pathResponse(data))
                pendingPathResponses.removeFirst()
                isAckEliciting = true
            }
            if writeConnectionIDFrames(writer: &writer) { isAckEliciting = true }
            if hasPendingNewToken && writeNewTokenFrame(writer: &writer) { isAckEliciting = true }
            // Regular packets go to the selected path, so only its report belongs here.
            if writeObservedAddress(onPathAt: pathTable.activeIndex, into: &writer, sentFrames: &sentFramesScratch) {
                isAckEliciting = true
            }
            if hasPendingNATTraversalFrames
                && writeNATTraversalFrames(into: &writer, sentFrames: &sentFramesScratch)
            {
                isAckEliciting = true
            }
        }

        // CRYPTO data (handshake messages; post-handshake messages such as NewSessionTicket in 1-RTT).
        while space.cryptoSend.hasPendingData, writer.remaining > 8 {
            guard let written = space.cryptoSend.writeFrame(into: &writer, maxFrameLength: writer.remaining) else {
                break
            }
            sentFramesScratch.append(.crypto(space.level.rawValue, offset: written.offset, length: written.length))
            isAckEliciting = true
        }

        if space.level == .application && isHandshakeComplete {
            let before = sentFramesScratch.count
            streams.flowControlClock = FlowControlClock(now: now, smoothedRTT: recovery.rtt.smoothedRTT)
            streams.writeControlFrames(into: &writer, sentFrames: &sentFramesScratch)
            if writeDatagramFrames(writer: &writer) { isAckEliciting = true }
            streams.writeStreamFrames(into: &writer, sentFrames: &sentFramesScratch)
            if sentFramesScratch.count > before { isAckEliciting = true }
            if isKeepAlivePending && !isAckEliciting && writer.remaining >= 1 {
                Frame.ping.encode(into: &writer)
                sentFramesScratch.append(.ping)
                isAckEliciting = true
            }
            if isAckEliciting { isKeepAlivePending = false }
        }

        // A probe must be ack-eliciting (RFC 9002 §6.2.4).
        if space.probesOwed > 0 && !isAckEliciting && writer.remaining >= 1 {
            Frame.ping.encode(into: &writer)
            sentFramesScratch.append(.ping)
            isAckEliciting = true
        }
        return isAckEliciting
    }

    /// NEW_CONNECTION_ID and RETIRE_CONNECTION_ID frames owed to the peer (RFC 9000 §19.15, §19.16).
    private func writeConnectionIDFrames(writer: inout ByteWriter) -> Bool {
        var wrote = false
        while let sequence = localConnectionIDs.pendingAnnouncements.first {
            guard let issued = localConnectionIDs.lookup(sequenceNumber: sequence) else {
                localConnectionIDs.pendingAnnouncements.removeFirst()
                continue
            }
            let frame = Frame.newConnectionID(NewConnectionIDFrame(
                sequenceNumber: sequence, retirePriorTo: localConnectionIDs.retirePriorTo,
                connectionID: issued.connectionID,
                statelessResetToken: issued.resetToken))
            guard frame.encodedLength <= writer.remaining else { break }
            frame.encode(into: &writer)
            sentFramesScratch.append(.newConnectionID(sequenceNumber: sequence))
            localConnectionIDs.pendingAnnouncements.removeFirst()
            wrote = true
        }
        while let sequence = peerConnectionIDs.pendingRetirements.first {
            let frame = Frame.retireConnectionID(sequenceNumber: sequence)
            guard frame.encodedLength <= writer.remaining else { break }
            frame.encode(into: &writer)
            sentFramesScratch.append(.retireConnectionID(sequenceNumber: sequence))
            peerConnectionIDs.pendingRetirements.removeFirst()
            wrote = true
        }
        return wrote
    }

    /// Queued DATAGRAM frames that fit (RFC 9221 §5): never retransmitted.
    private func writeDatagramFrames(writer: inout ByteWriter) -> Bool {
        var wrote = false
        while let datagram = outgoingDatagrams.first {
            let needed = DatagramFrame.headerLength(length: datagram.count) + datagram.count
            guard needed <= writer.remaining else {
                // Too large even for an otherwise empty packet: drop it (RFC 9221 §5 permits dropping).
                if !wrote && needed > maxDatagramSize - 64 { _ = outgoingDatagrams.popFirst() }
                break
            }
            DatagramFrame.encodeHeader(length: datagram.count, into: &writer)
            writer.writeBytes(datagram)
            sentFramesScratch.append(.datagram)
            _ = outgoingDatagrams.popFirst()
            wrote = true
        }
        return wrote
    }

    /// Appends PADDING so the datagram ends at `target`, and so the header-protection sample exists.
    func pad(_ packet: inout OpenPacket, to target: Int, buffer: UnsafeMutableRawBufferPointer) {
        let tagLength = spaces[packet.level.rawValue].localKeys?.tagLength ?? 16
        var end = packet.payloadEnd
        // RFC 9001 §5.4.2: at least 4 bytes of packet number + payload so a 16-byte sample exists.
        end = max(end, packet.packetNumberOffset + 4 + 16 - tagLength)
        end = max(end, target - tagLength)
        end = min(end, buffer.count - tagLength)
        if end > packet.payloadEnd {
            UnsafeMutableRawBufferPointer(rebasing: buffer[packet.payloadEnd..<end]).initializeMemory(as: UInt8.self, repeating: 0)
            packet.payloadEnd = end
        }
    }

    /// Seals a packet in place, applies header protection and records it for recovery; returns the datagram
    /// length so far.
    func seal(_ packet: OpenPacket, buffer: UnsafeMutableRawBufferPointer, now: Instant) -> Int {
        var packet = packet
        pad(&packet, to: 0, buffer: buffer)
        let space = spaces[packet.level.rawValue]
        guard let keys = space.localKeys else { return packet.headerStart }
        let tagLength = keys.tagLength
        let end = packet.payloadEnd + tagLength
        if let lengthOffset = packet.lengthOffset {
            PacketWriter.patchLength(end - packet.packetNumberOffset, at: lengthOffset, in: buffer)
        }
        let payloadStart = packet.packetNumberOffset + packet.packetNumberLength
        do {
            try keys.seal(
                packetNumber: packet.packetNumber, buffer: buffer, headerStart: packet.headerStart,
                payloadStart: payloadStart, payloadEnd: packet.payloadEnd)
            let sampleStart = packet.packetNumberOffset + 4
            let mask = try keys.headerProtectionMask(
                sample: UnsafeRawBufferPointer(rebasing: buffer[sampleStart..<(sampleStart + keys.sampleLength)]))
            buffer[packet.headerStart] ^= mask.first & (packet.lengthOffset != nil ? 0x0f : 0x1f)
            let maskBytes = mask.packetNumber
            for index in 0..<packet.packetNumberLength {
                let maskByte = switch index {
                case 0: maskBytes.0
                case 1: maskBytes.1
                case 2: maskBytes.2
                default: maskBytes.3
                }
                buffer[packet.packetNumberOffset + index] ^= maskByte
            }
        } catch {
            // Sealing fails only on a crypto-library failure; give up on the packet (its number stays used).
            return packet.headerStart
        }
        let frames = pendingSentFrames[packet.level.rawValue]
        pendingSentFrames[packet.level.rawValue] = []
        sentFramesObserver?(frames)
        recovery.onPacketSent(
            SentPacket(
                packetNumber: packet.packetNumber, timeSent: now, size: end - packet.headerStart,
                isAckEliciting: packet.isAckEliciting, isMTUProbe: packet.isMTUProbe,
                isECNMarked: recovery.ecn.isMarking, frames: frames),
            space: packet.level.packetNumberSpace, now: now)
        if packet.level == .application { onApplicationPacketProtected(packetNumber: packet.packetNumber) }
        counters.packetsSent += 1
        if packet.isAckEliciting {
            if isFirstAckElicitingSinceReceive {
                // Sending an ack-eliciting packet first after receiving restarts the idle timer (RFC 9000 §10.1).
                restartIdleTimer(now: now)
            }
            isFirstAckElicitingSinceReceive = false
            lastAckElicitingSentTime = now
        }
        return end
    }

    /// While closing, sends CONNECTION_CLOSE at every level the peer may be able to read (RFC 9000 §10.2.3).
    private func writeClosePackets(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let closeFrame else { return nil }
        isClosePending = false
        let limit = min(buffer.count, maxDatagramSize)
        var position = 0
        for level in EncryptionLevel.allCases {
            let space = spaces[level.rawValue]
            guard !space.isDiscarded, let keys = space.localKeys else { continue }
            if level == .application && !isHandshakeComplete && side == .client { continue }
            var frame = closeFrame
            if level != .application && frame.isApplicationError {
                // Application closes become APPLICATION_ERROR in Initial/Handshake packets (RFC 9000 §10.2.3).
                frame = ConnectionCloseFrame(
                    isApplicationError: false, errorCode: TransportError.Code.applicationError.rawValue,
                    frameType: 0, reasonPhrase: [])
            }
            let packetNumber = space.nextPacketNumber
            let packetNumberLength = PacketNumber.encodedLength(
                packetNumber: packetNumber, largestAcknowledged: space.largestAckedPacket)
            let payloadLimit = limit - keys.tagLength
            let encoded = Frame.connectionClose(frame)
            guard payloadLimit - position >= 64 + encoded.encodedLength else { break }
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<payloadLimit]), position: position)
            var lengthOffset: Int?
            if level == .application {
                PacketWriter.writeShortHeader(
                    into: &writer, destinationConnectionID: destinationConnectionID, packetNumber: packetNumber,
                    packetNumberLength: packetNumberLength, keyPhase: keyPhase)
            } else {
                lengthOffset = PacketWriter.writeLongHeader(
                    into: &writer, type: space.packetType, version: QUICVersion.version1,
                    destinationConnectionID: destinationConnectionID, sourceConnectionID: sourceConnectionID,
                    token: addressValidation.initialToken, packetNumber: packetNumber,
                    packetNumberLength: packetNumberLength)
            }
            encoded.encode(into: &writer)
            space.nextPacketNumber += 1
            var packet = OpenPacket(
                level: level, headerStart: position, lengthOffset: lengthOffset,
                packetNumberOffset: writer.position - encoded.encodedLength - packetNumberLength,
                packetNumberLength: packetNumberLength, packetNumber: packetNumber, payloadEnd: writer.position,
                isAckEliciting: false, frameCount: 1)
            if level == .initial && side == .client { pad(&packet, to: min(1200, limit), buffer: buffer) }
            pendingSentFrames[level.rawValue] = []
            position = sealWithoutRecording(packet, buffer: buffer)
        }
        guard position > 0 else { return nil }
        counters.bytesSent += UInt64(position)
        return position
    }

    func sealWithoutRecording(_ packet: OpenPacket, buffer: UnsafeMutableRawBufferPointer) -> Int {
        var packet = packet
        pad(&packet, to: 0, buffer: buffer)
        guard let keys = spaces[packet.level.rawValue].localKeys else { return packet.headerStart }
        let end = packet.payloadEnd + keys.tagLength
        if let lengthOffset = packet.lengthOffset {
            PacketWriter.patchLength(end - packet.packetNumberOffset, at: lengthOffset, in: buffer)
        }
        do {
            try keys.seal(
                packetNumber: packet.packetNumber, buffer: buffer, headerStart: packet.headerStart,
                payloadStart: packet.packetNumberOffset + packet.packetNumberLength, payloadEnd: packet.payloadEnd)
            let sampleStart = packet.packetNumberOffset + 4
            let mask = try keys.headerProtectionMask(
                sample: UnsafeRawBufferPointer(rebasing: buffer[sampleStart..<(sampleStart + keys.sampleLength)]))
            buffer[packet.headerStart] ^= mask.first & (packet.lengthOffset != nil ? 0x0f : 0x1f)
            let maskBytes = mask.packetNumber
            for index in 0..<packet.packetNumberLength {
                let maskByte = switch index {
                case 0: maskBytes.0
                case 1: maskBytes.1
                case 2: maskBytes.2
                default: maskBytes.3
                }
                buffer[packet.packetNumberOffset + index] ^= maskByte
            }
        } catch {
            return packet.headerStart
        }
        return end
    }
}

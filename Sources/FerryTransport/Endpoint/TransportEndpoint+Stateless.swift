/// Packets the endpoint sends without any connection state: Retry (RFC 9000 §17.2.5), stateless reset
/// (RFC 9000 §10.3) and a stateless refusal (CONNECTION_CLOSE in an Initial, RFC 9000 §10.2.3).
///
/// Each goes into the bounded `statelessTransmits` queue; when it is full the trigger is dropped and counted,
/// so a flood of Initials or unknown short-header packets cannot grow memory.
extension TransportEndpoint {
    /// The largest stateless reset sent: big enough to pass for a short-header packet (RFC 9000 §10.3).
    static let maxStatelessResetSize = 43
    /// The smallest stateless reset: 5 unpredictable bytes (at least 38 bits) and the 16-byte token (§10.3).
    static let minStatelessResetSize = 21

    /// Answers a client Initial with a Retry carrying a fresh address-validation token (RFC 9000 §8.1.2).
    ///
    /// The Retry's Source Connection ID is new and becomes the client's next Destination Connection ID; the
    /// token binds it, the original Destination Connection ID and the client's address, so the second Initial
    /// can be checked without state.
    func sendRetry(for header: PacketHeader, from remote: NetworkAddress, now: Instant) {
        guard statelessTransmits.count < Self.maxStatelessTransmits else {
            droppedDatagrams += 1
            return
        }
        let retrySource = context.makeConnectionID(length: max(8, context.config.connectionIDLength))
        guard let token = context.tokens.makeRetryToken(
            remote: remote, originalDestination: header.destinationConnectionID, retrySource: retrySource, now: now,
            random: &context.random)
        else {
            droppedDatagrams += 1
            return
        }
        let withoutTag = PacketWriter.encodeRetryWithoutTag(
            version: QUICVersion.version1, destinationConnectionID: header.sourceConnectionID,
            sourceConnectionID: retrySource, token: token)
        guard let tag = try? RetryIntegrity.tag(
            retryPacketWithoutTag: withoutTag, originalDestinationConnectionID: header.destinationConnectionID.bytes)
        else {
            droppedDatagrams += 1
            return
        }
        retriesSent += 1
        statelessTransmits.append((remote, withoutTag + tag))
    }

    /// Answers a short-header packet for an unknown connection ID with a stateless reset (RFC 9000 §10.3).
    ///
    /// The reset is always smaller than its trigger (so two endpoints without state cannot loop), at least 21
    /// bytes (so a trigger of 21 bytes or fewer gets none), looks like a short-header packet, ends in the
    /// token derived from the trigger's connection ID, and is rate limited.
    func sendStatelessReset(
        triggerLength: Int, destination: ConnectionID, to remote: NetworkAddress, now: Instant
    ) {
        let size = min(triggerLength - 1, Self.maxStatelessResetSize)
        guard size >= Self.minStatelessResetSize, statelessTransmits.count < Self.maxStatelessTransmits,
            !retiredConnectionIDs.contains(destination), allowsStatelessReset(now: now)
        else { return }
        var bytes = [UInt8](repeating: 0, count: size - StatelessResetToken.length)
        context.random.fill(&bytes)
        // Short header form with the fixed bit set; the rest is unpredictable (RFC 9000 §10.3 Figure 10).
        bytes[0] = PacketHeader.fixedBit | (bytes[0] & 0x3f)
        bytes += context.resetMAC.statelessResetToken(for: destination.bytes)
        statelessResetsSent += 1
        statelessTransmits.append((remote, bytes))
    }

    /// The per-second budget of stateless resets (RFC 9000 §10.3: rate-limit them).
    private func allowsStatelessReset(now: Instant) -> Bool {
        let limit = context.config.addressValidation.statelessResetsPerSecond
        guard limit > 0 else { return false }
        if now >= statelessResetWindowStart + .seconds(1) || now < statelessResetWindowStart {
            statelessResetWindowStart = now
            statelessResetsInWindow = 0
        }
        guard statelessResetsInWindow < limit else { return false }
        statelessResetsInWindow += 1
        return true
    }

    /// Closes a connection attempt without creating it: an Initial packet from the server carrying
    /// CONNECTION_CLOSE with `code` (RFC 9000 §10.2.3), protected with the Initial keys of the client's
    /// Destination Connection ID (RFC 9001 §5.2). Used for refusals (CONNECTION_REFUSED) and invalid Retry
    /// tokens (INVALID_TOKEN, RFC 9000 §8.1.2).
    func sendStatelessClose(
        to header: PacketHeader, from remote: NetworkAddress, code: TransportError.Code, reason: String
    ) {
        guard statelessTransmits.count < Self.maxStatelessTransmits,
            let keys = try? context.config.crypto.makeInitialKeys(
                destinationConnectionID: header.destinationConnectionID.bytes, side: .server)
        else {
            droppedDatagrams += 1
            return
        }
        let protector = keys.local
        let sourceConnectionID = context.makeConnectionID()
        let frame = Frame.connectionClose(ConnectionCloseFrame(
            isApplicationError: false, errorCode: code.rawValue, frameType: 0,
            reasonPhrase: Array(reason.utf8.prefix(64))[...]))
        let packetNumberLength = 1
        let headerLength = PacketWriter.longHeaderLength(
            type: .initial, destinationConnectionID: header.sourceConnectionID,
            sourceConnectionID: sourceConnectionID, tokenLength: 0, packetNumberLength: packetNumberLength)
        // Pad the payload so the header-protection sample (4 bytes after the packet number) exists (RFC 9001 §5.4.2).
        let payloadLength = max(frame.encodedLength, 4)
        let total = headerLength + payloadLength + protector.tagLength
        var bytes = [UInt8](repeating: 0, count: total)
        let sealed: Bool = bytes.withUnsafeMutableBytes { buffer in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(total - protector.tagLength)]))
            let lengthOffset = PacketWriter.writeLongHeader(
                into: &writer, type: .initial, version: QUICVersion.version1,
                destinationConnectionID: header.sourceConnectionID, sourceConnectionID: sourceConnectionID,
                token: EmptyCollection<UInt8>(), packetNumber: 0, packetNumberLength: packetNumberLength)
            let packetNumberOffset = writer.position - packetNumberLength
            frame.encode(into: &writer)
            let payloadEnd = headerLength + payloadLength
            PacketWriter.patchLength(total - packetNumberOffset, at: lengthOffset, in: buffer)
            do {
                try protector.seal(
                    packetNumber: 0, buffer: buffer, headerStart: 0, payloadStart: headerLength, payloadEnd: payloadEnd)
                let sampleStart = packetNumberOffset + 4
                let mask = try protector.headerProtectionMask(
                    sample: UnsafeRawBufferPointer(rebasing: buffer[sampleStart..<(sampleStart + protector.sampleLength)]))
                buffer[0] ^= mask.first & 0x0f
                buffer[packetNumberOffset] ^= mask.packetNumber.0
                return true
            } catch {
                return false
            }
        }
        guard sealed else {
            droppedDatagrams += 1
            return
        }
        statelessTransmits.append((remote, bytes))
    }
}

extension TransportEndpoint {
    /// Remembers a local connection ID the peer retired, so a reordered packet still addressed to it is dropped
    /// rather than answered with a stateless reset that could end the live connection (RFC 9000 §10.3.1).
    func noteRetiredConnectionID(_ connectionID: ConnectionID) {
        retiredConnectionIDs.insert(connectionID)
    }
}

/// A bounded set of recently seen connection IDs, oldest evicted first.
struct RecentConnectionIDs {
    static let capacity = 1024
    private var members: Set<ConnectionID> = []
    private var order: [ConnectionID] = []
    private var head = 0

    func contains(_ connectionID: ConnectionID) -> Bool { members.contains(connectionID) }

    mutating func insert(_ connectionID: ConnectionID) {
        guard members.insert(connectionID).inserted else { return }
        if order.count < Self.capacity {
            order.append(connectionID)
        } else {
            members.remove(order[head])
            order[head] = connectionID
            head = (head + 1) % Self.capacity
        }
    }
}

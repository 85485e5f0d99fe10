/// Path MTU discovery (RFC 9000 §14.3, RFC 8899) and ECN marking (RFC 9000 §13.4) on the connection's path.
///
/// Until the handshake is confirmed every datagram is at most 1200 bytes. Then `MTUDiscovery` names probe sizes
/// and this extension sends them as 1-RTT packets holding a PING padded to the probe size; an acknowledged probe
/// raises `maxDatagramSize` (and the congestion controller's datagram size and the pacer with it), a black hole
/// drops it back to 1200. The runtime's GSO runs are cut at `maxDatagramSize`, so segment sizes follow the path
/// MTU. A probe is sent only when the window has room for it and never inside a GSO run (it does not fit the
/// run's slot), and its loss is not a congestion signal.
extension TransportConnection {
    /// Starts DPLPMTUD once the handshake is confirmed (RFC 9000 §14.3) and resolves the AEAD limits.
    func onPathConfirmed(now: Instant) {
        let peerMaximum = Int(clamping: peerTransportParameters?.maxUDPPayloadSize ?? 1200)
        let maximum = min(config.maxUDPPayloadSize, peerMaximum, 65527)
        mtuDiscovery = MTUDiscovery(maximumMTU: maximum, isEnabled: config.isMTUDiscoveryEnabled)
        applyPathMTU(mtuDiscovery.currentMTU)
        configureKeyUpdateLimits()
    }

    /// Starts MTU discovery and ECN validation over for a new path (RFC 9000 §9.4, §13.4.2, §14.3): the new
    /// path gets 1200-byte datagrams until a probe succeeds on it. For the paths code to call on migration.
    func resetPathMTUAndECN() {
        mtuDiscovery = MTUDiscovery(maximumMTU: mtuDiscovery.maximumMTU, isEnabled: mtuDiscovery.isEnabled)
        applyPathMTU(mtuDiscovery.currentMTU)
        recovery.ecn.reset(isEnabled: config.isECNEnabled)
    }

    /// Reports the largest UDP payload the local network stack can send on the selected path: the interface MTU,
    /// or the size an EMSGSIZE send error reports. For the runtime to call.
    ///
    /// QUIC needs paths that carry 1200-byte datagrams (RFC 9000 §14). When the local stack cannot, the endpoint
    /// must stop sending on the path; Ferry has no other path to move to on its own, so the connection closes
    /// with NO_VIABLE_PATH (RFC 9000 §14, §20.1), the one frame still allowed on the path. Do not pass sizes
    /// taken from ICMP messages: RFC 9000 §14.2.1 requires ignoring ICMP claims below 1200 bytes. Sizes of 1200
    /// or more change nothing; DPLPMTUD's black-hole detection handles paths that shrink (RFC 8899 §4.3).
    public func handleLocalPathMTU(_ maxUDPPayloadSize: Int, now: Instant) {
        guard maxUDPPayloadSize < MTUDiscovery.baseMTU, state == .handshaking || state == .established else { return }
        closeWithError(
            TransportError(
                .noViablePath,
                reason: "path carries at most \(maxUDPPayloadSize)-byte datagrams, below the 1200-byte minimum"),
            now: now)
        markDirty()
    }

    /// The ECN codepoint for this connection's datagrams: ECT(0) while ECN validation has not failed
    /// (RFC 9000 §13.4.2). Constant within one `pollTransmit` batch, so a GSO run shares one value.
    public var ecnCodepoint: UInt8 { recovery.ecn.codepoint }

    /// The ECN validation state of the path (RFC 9000 §13.4.2).
    public var ecnState: ECNState { recovery.ecn.state }

    /// The largest datagram `pollTransmit` may write into a buffer of `bufferCount` bytes: the path MTU, or the
    /// 1200-byte base for probe-timeout probes after repeated PTOs, when large packets may be black-holed.
    @inline(__always)
    func datagramSizeLimit(bufferCount: Int) -> Int {
        let limit = min(bufferCount, maxDatagramSize)
        guard spaces[EncryptionLevel.application.rawValue].probesOwed > 0,
            mtuDiscovery.limitsProbeTimeoutProbes(ptoCount: recovery.ptoCount)
        else { return limit }
        return min(limit, MTUDiscovery.baseMTU)
    }

    /// Updates path MTU discovery with the packets an ACK or loss timer settled in the application space.
    func onPathPacketsSettled(acknowledged: [SentPacket], lost: [SentPacket], level: EncryptionLevel) {
        guard level == .application, mtuDiscovery.isEnabled else { return }
        if mtuDiscovery.onPacketsSettled(acknowledged: acknowledged, lost: lost) {
            applyPathMTU(mtuDiscovery.currentMTU)
        }
    }

    private func applyPathMTU(_ size: Int) {
        maxDatagramSize = size
        recovery.congestionController.maxDatagramSize = size
        updatePacing()
    }

    /// Writes a PMTU probe datagram when one is due and the window allows it: a 1-RTT packet with PING, padded to
    /// the probe size (RFC 9000 §14.4). Returns its size, or nil to build an ordinary datagram.
    func writeMTUProbeIfDue(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard mtuDiscovery.isEnabled, isHandshakeConfirmed, state == .established else { return nil }
        let space = spaces[EncryptionLevel.application.rawValue]
        guard space.probesOwed == 0, let keys = space.localKeys,
            let size = mtuDiscovery.probeSize(now: now), size <= buffer.count,
            recovery.congestionController.canSend(bytes: size)
        else { return nil }
        let packetNumber = space.nextPacketNumber
        let packetNumberLength = PacketNumber.encodedLength(
            packetNumber: packetNumber, largestAcknowledged: space.largestAckedPacket)
        var writer = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(size - keys.tagLength)]))
        PacketWriter.writeShortHeader(
            into: &writer, destinationConnectionID: destinationConnectionID, packetNumber: packetNumber,
            packetNumberLength: packetNumberLength, keyPhase: keyPhase)
        let packetNumberOffset = writer.position - packetNumberLength
        Frame.ping.encode(into: &writer)
        space.nextPacketNumber += 1
        var packet = OpenPacket(
            level: .application, headerStart: 0, lengthOffset: nil, packetNumberOffset: packetNumberOffset,
            packetNumberLength: packetNumberLength, packetNumber: packetNumber, payloadEnd: writer.position,
            isAckEliciting: true, frameCount: 1, isMTUProbe: true)
        pendingSentFrames[EncryptionLevel.application.rawValue] = [.ping]
        pad(&packet, to: size, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
        let end = seal(packet, buffer: buffer, now: now)
        guard end == size else { return end > 0 ? end : nil }
        mtuDiscovery.onProbeSent(packetNumber: packetNumber, size: size)
        counters.bytesSent += UInt64(end)
        pacer.onPacketSent(size: end, now: now)
        return end
    }
}

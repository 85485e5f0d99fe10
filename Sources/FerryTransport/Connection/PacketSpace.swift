/// One packet-number space (RFC 9000 §12.3): Initial, Handshake or Application data.
///
/// Each space has its own keys, packet numbers, CRYPTO stream and acknowledgement state, and is discarded as
/// a whole when its keys are (RFC 9001 §4.9). A class so the connection can hold the three in a fixed array and
/// mutate them in place without copy-on-write traffic.
final class PacketSpace {
    /// The encryption level protecting this space's packets.
    let level: EncryptionLevel
    /// Keys protecting packets we send; nil until the handshake provides them.
    @exclusivity(unchecked) var localKeys: (any PacketProtector)?
    /// Keys removing protection from packets we receive.
    @exclusivity(unchecked) var remoteKeys: (any PacketProtector)?
    /// Set once the keys are discarded; no packet of this space is sent or processed afterwards.
    @exclusivity(unchecked) var isDiscarded = false

    /// The next packet number to send (RFC 9000 §12.3); never reused.
    @exclusivity(unchecked) var nextPacketNumber: UInt64 = 0
    /// The largest packet number the peer acknowledged, for packet-number truncation (RFC 9000 §17.1).
    @exclusivity(unchecked) var largestAckedPacket: UInt64?

    /// Outgoing CRYPTO stream bytes (RFC 9000 §19.6).
    @exclusivity(unchecked) var cryptoSend = CryptoSendStream()
    /// Incoming CRYPTO stream reassembly.
    @exclusivity(unchecked) var cryptoReceive = CryptoReceiveStream()

    /// Received packet numbers and acknowledgement scheduling (RFC 9000 §13.2).
    @exclusivity(unchecked) var received: ReceivedPacketTracker

    /// Ack-eliciting probes owed after a PTO (RFC 9002 §6.2.4).
    @exclusivity(unchecked) var probesOwed = 0

    init(level: EncryptionLevel, maxAckDelay: Duration) {
        self.level = level
        self.received = ReceivedPacketTracker(space: level.packetNumberSpace, maxAckDelay: maxAckDelay)
    }

    /// The long-header packet type for this space (nil for 1-RTT short headers).
    var packetType: PacketType {
        switch level {
        case .initial: .initial
        case .handshake: .handshake
        case .application: .oneRTT
        }
    }

    /// Drops keys and buffered state (RFC 9001 §4.9).
    func discard() {
        isDiscarded = true
        localKeys = nil
        remoteKeys = nil
        cryptoSend = CryptoSendStream()
        cryptoReceive = CryptoReceiveStream()
        probesOwed = 0
    }
}

extension EncryptionLevel {
    /// The recovery layer's name for this level's packet-number space.
    var packetNumberSpace: PacketNumberSpace {
        switch self {
        case .initial: .initial
        case .handshake: .handshake
        case .application: .application
        }
    }
}

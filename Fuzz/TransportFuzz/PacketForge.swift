import FerryTransport

// Builds protected QUIC packets the way a peer would, so the fuzzer's frame bytes arrive inside packets the target
// endpoint can open.

/// Which packet type to forge (RFC 9000 §17.2.2 Initial, §17.2.4 Handshake, §17.3.1 1-RTT).
enum ForgedPacketType {
    case initial
    case handshake
    case oneRTT

    var level: EncryptionLevel {
        switch self {
        case .initial: .initial
        case .handshake: .handshake
        case .oneRTT: .application
        }
    }
}

enum PacketForge {
    /// The AEAD tag length of every QUIC v1 suite and of TestPacketProtector (RFC 9001 §5.3).
    static let tagLength = 16
    /// Packets always carry a 4-byte packet number, which the receiver decodes correctly for any packet number
    /// within 2^31 of the largest it has seen (RFC 9000 §17.1, Appendix A.3).
    static let packetNumberLength = 4

    /// Returns a protected packet carrying `payload` (frames, unencrypted), padded with PADDING frames to at least
    /// `minimumSize` bytes, or nil if the protector refuses it.
    ///
    /// Payload protection is applied first over the unprotected header as associated data, then header protection
    /// masks the low bits of the first byte and the packet number from a sample 4 bytes past the packet number's
    /// start (RFC 9001 §5.3, §5.4.2).
    static func make(
        _ type: ForgedPacketType, destination: ConnectionID, source: ConnectionID, token: [UInt8] = [],
        packetNumber: UInt64, keyPhase: Bool = false, spinBit: Bool = false, payload: [UInt8], minimumSize: Int = 0,
        protector: any PacketProtector
    ) -> [UInt8]? {
        var packet: [UInt8] = []
        packet.reserveCapacity(64 + payload.count + tagLength)
        var lengthOffset: Int?
        switch type {
        case .initial, .handshake:
            packet.append(0xC0 | (type == .handshake ? 0x20 : 0) | UInt8(packetNumberLength - 1))
            packet += [0, 0, 0, 1]
            packet.append(UInt8(destination.count))
            packet += destination.bytes
            packet.append(UInt8(source.count))
            packet += source.bytes
            if type == .initial {
                appendVarInt(UInt64(token.count), to: &packet)
                packet += token
            }
            lengthOffset = packet.count
            packet += [0x40, 0x00]
        case .oneRTT:
            packet.append(0x40 | (spinBit ? 0x20 : 0) | (keyPhase ? 0x04 : 0) | UInt8(packetNumberLength - 1))
            packet += destination.bytes
        }
        let packetNumberOffset = packet.count
        for shift in stride(from: 24, through: 0, by: -8) {
            packet.append(UInt8(truncatingIfNeeded: packetNumber >> UInt64(shift)))
        }
        // The long header's 2-byte Length field caps a packet at 16383 bytes after it.
        var body = Array(payload.prefix(16_000))
        let unpadded = packet.count + body.count + tagLength
        if unpadded < minimumSize { body += [UInt8](repeating: 0, count: minimumSize - unpadded) }
        if let lengthOffset {
            let length = packetNumberLength + body.count + tagLength
            packet[lengthOffset] = 0x40 | UInt8(truncatingIfNeeded: length >> 8)
            packet[lengthOffset + 1] = UInt8(truncatingIfNeeded: length)
        }
        let payloadStart = packet.count
        packet += body
        packet += [UInt8](repeating: 0, count: tagLength)
        let isLong = type != .oneRTT
        let sealed: Bool = packet.withUnsafeMutableBytes { buffer in
            do throws(PacketProtectionError) {
                try protector.seal(
                    packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: payloadStart,
                    payloadEnd: payloadStart + body.count)
                let sampleStart = packetNumberOffset + 4
                let sample = UnsafeRawBufferPointer(
                    rebasing: buffer[sampleStart..<(sampleStart + protector.sampleLength)])
                let mask = try protector.headerProtectionMask(sample: sample)
                buffer[0] ^= mask.first & (isLong ? 0x0F : 0x1F)
                buffer[packetNumberOffset] ^= mask.packetNumber.0
                buffer[packetNumberOffset + 1] ^= mask.packetNumber.1
                buffer[packetNumberOffset + 2] ^= mask.packetNumber.2
                buffer[packetNumberOffset + 3] ^= mask.packetNumber.3
                return true
            } catch {
                return false
            }
        }
        return sealed ? packet : nil
    }

    /// Appends a QUIC variable-length integer (RFC 9000 §16), clamping values beyond 2^62 - 1.
    static func appendVarInt(_ value: UInt64, to bytes: inout [UInt8]) {
        let value = min(value, (1 << 62) - 1)
        switch value {
        case ..<(1 << 6): bytes.append(UInt8(value))
        case ..<(1 << 14): bytes += [0x40 | UInt8(value >> 8), UInt8(truncatingIfNeeded: value)]
        case ..<(1 << 30):
            bytes.append(0x80 | UInt8(value >> 24))
            for shift in stride(from: 16, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        default:
            bytes.append(0xC0 | UInt8(value >> 56))
            for shift in stride(from: 48, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
    }
}

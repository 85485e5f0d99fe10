/// Writes QUIC packet headers into caller-owned buffers (RFC 9000 §17).
///
/// Headers are written unprotected; packet protection then encrypts the payload and masks the first byte and
/// packet number (RFC 9001 §5.4). Long headers reserve a 2-byte Length that is patched once the payload size
/// is known, so a packet is built in one pass with no copies.
public enum PacketWriter {
    /// Writes a long header for an Initial, 0-RTT or Handshake packet, including the packet number.
    ///
    /// Returns the offset of the 2-byte Length placeholder; the packet number starts 2 bytes after it. Patch the
    /// Length with `patchLength` once the payload and AEAD tag size are known (RFC 9000 §17.2). `token` is
    /// written only for Initial packets (§17.2.2). Reserved bits are zero (§17.2).
    @discardableResult
    public static func writeLongHeader(
        into writer: inout ByteWriter, type: PacketType, version: UInt32, destinationConnectionID: ConnectionID,
        sourceConnectionID: ConnectionID, token: some Collection<UInt8>, packetNumber: UInt64,
        packetNumberLength: Int
    ) -> Int {
        precondition(
            type == .initial || type == .zeroRTT || type == .handshake,
            "writeLongHeader handles Initial, 0-RTT and Handshake packets")
        precondition(packetNumberLength >= 1 && packetNumberLength <= 4, "packet number length must be 1...4")
        let typeBits = type.longHeaderTypeBits ?? 0
        writer.writeUInt8(
            PacketHeader.longHeaderBit | PacketHeader.fixedBit | (typeBits << 4) | UInt8(packetNumberLength - 1))
        writer.writeUInt32(version)
        writer.writeUInt8(UInt8(truncatingIfNeeded: destinationConnectionID.count))
        writer.writeConnectionID(destinationConnectionID)
        writer.writeUInt8(UInt8(truncatingIfNeeded: sourceConnectionID.count))
        writer.writeConnectionID(sourceConnectionID)
        if type == .initial {
            writer.writeVarInt(UInt64(token.count))
            writer.writeBytes(token)
        }
        let lengthOffset = writer.position
        writer.writeUInt16(0x4000)
        writer.writeBigEndian(packetNumber, byteCount: packetNumberLength)
        return lengthOffset
    }

    /// The size of the long header `writeLongHeader` writes, including Length and the packet number.
    @inlinable
    public static func longHeaderLength(
        type: PacketType, destinationConnectionID: ConnectionID, sourceConnectionID: ConnectionID,
        tokenLength: Int, packetNumberLength: Int
    ) -> Int {
        var length = 1 + 4 + 1 + destinationConnectionID.count + 1 + sourceConnectionID.count + 2
            + packetNumberLength
        if type == .initial {
            length += VarInt.encodedLength(UInt64(tokenLength)) + tokenLength
        }
        return length
    }

    /// Patches the 2-byte Length field reserved by `writeLongHeader` (RFC 9000 §17.2).
    ///
    /// `length` covers the packet number, the payload and the AEAD tag, and must be below 16384.
    @inlinable
    public static func patchLength(_ length: Int, at offset: Int, in buffer: UnsafeMutableRawBufferPointer) {
        precondition(length >= 0 && length < 0x4000, "long header Length must fit in 2 bytes")
        precondition(offset >= 0 && offset + 2 <= buffer.count, "Length offset out of range")
        buffer.storeBytes(of: (UInt16(length) | 0x4000).bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Writes a short (1-RTT) header including the packet number (RFC 9000 §17.3.1).
    ///
    /// Reserved bits are zero; `keyPhase` selects the key generation (RFC 9001 §6) and `spinBit` is the latency
    /// spin bit (RFC 9000 §17.4).
    public static func writeShortHeader(
        into writer: inout ByteWriter, destinationConnectionID: ConnectionID, packetNumber: UInt64,
        packetNumberLength: Int, keyPhase: Bool, spinBit: Bool = false
    ) {
        precondition(packetNumberLength >= 1 && packetNumberLength <= 4, "packet number length must be 1...4")
        var firstByte = PacketHeader.fixedBit | UInt8(packetNumberLength - 1)
        if spinBit { firstByte |= 0x20 }
        if keyPhase { firstByte |= 0x04 }
        writer.writeUInt8(firstByte)
        writer.writeConnectionID(destinationConnectionID)
        writer.writeBigEndian(packetNumber, byteCount: packetNumberLength)
    }

    /// The size of a short header with the given connection ID and packet number length.
    @inlinable
    public static func shortHeaderLength(destinationConnectionID: ConnectionID, packetNumberLength: Int) -> Int {
        1 + destinationConnectionID.count + packetNumberLength
    }

    /// Encodes a Version Negotiation packet (RFC 9000 §17.2.1).
    ///
    /// The connection IDs are those of the client's packet, swapped: the response's Destination is the client's
    /// Source. The unused bits are set to 0x40 so the packet looks like it has a Fixed Bit (§17.2.1).
    public static func encodeVersionNegotiation(
        destinationConnectionID: ConnectionID, sourceConnectionID: ConnectionID, supportedVersions: [UInt32]
    ) -> [UInt8] {
        let capacity = 7 + destinationConnectionID.count + sourceConnectionID.count + 4 * supportedVersions.count
        return ByteWriter.encode(capacity: capacity) { writer in
            writer.writeUInt8(PacketHeader.longHeaderBit | PacketHeader.fixedBit)
            writer.writeUInt32(0)
            writer.writeUInt8(UInt8(truncatingIfNeeded: destinationConnectionID.count))
            writer.writeConnectionID(destinationConnectionID)
            writer.writeUInt8(UInt8(truncatingIfNeeded: sourceConnectionID.count))
            writer.writeConnectionID(sourceConnectionID)
            for version in supportedVersions {
                writer.writeUInt32(version)
            }
        }
    }

    /// Encodes a Retry packet without its Integrity Tag (RFC 9000 §17.2.5).
    ///
    /// Packet protection computes the 16-byte tag over a pseudo-packet and appends it (RFC 9001 §5.8).
    public static func encodeRetryWithoutTag(
        version: UInt32, destinationConnectionID: ConnectionID, sourceConnectionID: ConnectionID,
        token: some Collection<UInt8>
    ) -> [UInt8] {
        let capacity = 7 + destinationConnectionID.count + sourceConnectionID.count + token.count
        return ByteWriter.encode(capacity: capacity) { writer in
            writer.writeUInt8(PacketHeader.longHeaderBit | PacketHeader.fixedBit | 0x30)
            writer.writeUInt32(version)
            writer.writeUInt8(UInt8(truncatingIfNeeded: destinationConnectionID.count))
            writer.writeConnectionID(destinationConnectionID)
            writer.writeUInt8(UInt8(truncatingIfNeeded: sourceConnectionID.count))
            writer.writeConnectionID(sourceConnectionID)
            writer.writeBytes(token)
        }
    }
}

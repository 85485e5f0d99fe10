/// Helpers for writing CRYPTO frames without copying (RFC 9000 §19.6).
///
/// The decoded form is `Frame.crypto(offset:data:)`; these let the transport write the header and then copy TLS
/// bytes from its crypto stream buffer directly into the packet.
public enum CryptoFrame {
    /// The size of a CRYPTO frame header for `length` data bytes at `offset`.
    @inlinable
    public static func headerLength(offset: UInt64, length: Int) -> Int {
        1 + VarInt.encodedLength(offset) + VarInt.encodedLength(UInt64(length))
    }

    /// Writes a CRYPTO frame header; the caller writes exactly `length` bytes after it.
    @inlinable
    public static func encodeHeader(offset: UInt64, length: Int, into writer: inout ByteWriter) {
        writer.writeUInt8(UInt8(truncatingIfNeeded: FrameType.crypto))
        writer.writeVarInt(offset)
        writer.writeVarInt(UInt64(length))
    }

    /// Decodes the fields after a CRYPTO frame type byte; rejects offset + length above 2^62 - 1.
    static func decodeBody(from reader: inout ByteReader) throws(WireError) -> Frame {
        let offset = try reader.readVarInt()
        let data = try reader.readVarIntPrefixedBytes()
        guard UInt64(data.count) <= VarInt.maxValue - offset else {
            throw .invalidFrame(type: FrameType.crypto, reason: "crypto offset plus length exceeds 2^62-1")
        }
        return .crypto(offset: offset, data: data)
    }
}

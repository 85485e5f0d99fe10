/// Helpers for writing DATAGRAM frames without copying (RFC 9221 §4).
///
/// The decoded form is `Frame.datagram(data:)`. Ferry always sends type 0x31 (with a Length field), so a datagram
/// frame can be followed by other frames in the same packet.
public enum DatagramFrame {
    /// The size of a DATAGRAM (0x31) frame header for `length` bytes.
    @inlinable
    public static func headerLength(length: Int) -> Int {
        1 + VarInt.encodedLength(UInt64(length))
    }

    /// Writes a DATAGRAM (0x31) frame header; the caller writes exactly `length` bytes after it.
    @inlinable
    public static func encodeHeader(length: Int, into writer: inout ByteWriter) {
        writer.writeUInt8(UInt8(truncatingIfNeeded: FrameType.datagramWithLength))
        writer.writeVarInt(UInt64(length))
    }

    /// Decodes the fields after a DATAGRAM type byte; type 0x30 runs to the end of the reader.
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> Frame {
        if type == FrameType.datagramWithLength {
            return .datagram(data: try reader.readVarIntPrefixedBytes())
        }
        return .datagram(data: try reader.readBytes(reader.remaining))
    }
}

/// A STREAM frame: application bytes at an offset of one stream (RFC 9000 §19.8).
///
/// `data` is a slice of the received datagram. On the send side, the `headerLength` and `encodeHeader` helpers
/// let the transport write the header and copy the payload straight from its stream buffer into the packet.
public struct StreamFrame: Equatable, Sendable {
    /// The stream this data belongs to (RFC 9000 §2.1).
    public var streamID: UInt64
    /// The byte offset of `data` within the stream.
    public var offset: UInt64
    /// The stream bytes.
    public var data: ArraySlice<UInt8>
    /// Whether this frame ends the stream (the FIN bit).
    public var fin: Bool

    /// Creates a STREAM frame.
    public init(streamID: UInt64, offset: UInt64, data: ArraySlice<UInt8>, fin: Bool) {
        self.streamID = streamID
        self.offset = offset
        self.data = data
        self.fin = fin
    }

    /// The OFF bit of the STREAM frame type (RFC 9000 §19.8).
    public static let offsetBit: UInt64 = 0x04
    /// The LEN bit of the STREAM frame type.
    public static let lengthBit: UInt64 = 0x02
    /// The FIN bit of the STREAM frame type.
    public static let finBit: UInt64 = 0x01

    /// The frame type `encode(into:)` writes: always with LEN, with OFF when the offset is non-zero.
    @inlinable
    public var encodedFrameType: UInt64 {
        StreamFrame.frameType(offset: offset, fin: fin)
    }

    @inlinable
    static func frameType(offset: UInt64, fin: Bool) -> UInt64 {
        FrameType.stream | StreamFrame.lengthBit | (offset != 0 ? StreamFrame.offsetBit : 0)
            | (fin ? StreamFrame.finBit : 0)
    }

    /// The bytes of a STREAM frame header with an explicit Length, and an Offset field only if `offset` is not 0.
    @inlinable
    public static func headerLength(streamID: UInt64, offset: UInt64, length: Int) -> Int {
        1 + VarInt.encodedLength(streamID) + (offset != 0 ? VarInt.encodedLength(offset) : 0)
            + VarInt.encodedLength(UInt64(length))
    }

    /// Writes a STREAM frame header; the caller writes exactly `length` payload bytes after it.
    @inlinable
    public static func encodeHeader(
        streamID: UInt64, offset: UInt64, length: Int, fin: Bool, into writer: inout ByteWriter
    ) {
        writer.writeUInt8(UInt8(truncatingIfNeeded: frameType(offset: offset, fin: fin)))
        writer.writeVarInt(streamID)
        if offset != 0 { writer.writeVarInt(offset) }
        writer.writeVarInt(UInt64(length))
    }

    /// The encoded size of this frame.
    @inlinable
    public var encodedLength: Int {
        StreamFrame.headerLength(streamID: streamID, offset: offset, length: data.count) + data.count
    }

    /// Writes the frame (header and data).
    @inlinable
    public func encode(into writer: inout ByteWriter) {
        StreamFrame.encodeHeader(streamID: streamID, offset: offset, length: data.count, fin: fin, into: &writer)
        writer.writeBytes(data)
    }

    /// Decodes the fields after a STREAM frame type byte (0x08…0x0f).
    ///
    /// Without the LEN bit the data runs to the end of the reader. Rejects offset + length above 2^62 - 1
    /// (RFC 9000 §19.8: FRAME_ENCODING_ERROR).
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> StreamFrame {
        let streamID = try reader.readVarInt()
        let offset = type & offsetBit != 0 ? try reader.readVarInt() : 0
        let data: ArraySlice<UInt8>
        if type & lengthBit != 0 {
            data = try reader.readVarIntPrefixedBytes()
        } else {
            data = try reader.readBytes(reader.remaining)
        }
        guard UInt64(data.count) <= VarInt.maxValue - offset else {
            throw .invalidFrame(type: type, reason: "stream offset plus length exceeds 2^62-1")
        }
        return StreamFrame(streamID: streamID, offset: offset, data: data, fin: type & finBit != 0)
    }
}

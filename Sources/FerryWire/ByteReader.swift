/// A bounds-checked cursor over received bytes.
///
/// Every read checks the remaining length first and throws `WireError.truncated` instead of trapping, because
/// the bytes come from the network (RFC 9000 §12.4). Slices returned by `readBytes` share the underlying array,
/// so decoding frames copies no payload.
public struct ByteReader: Sendable {
    /// The whole buffer being read; `position` and `endIndex` index into it.
    public let bytes: [UInt8]
    /// The index of the next byte to read.
    public var position: Int
    /// The index just past the last readable byte.
    public let endIndex: Int

    /// Creates a reader over `bytes`, limited to `range` when given (clamped to the array).
    @inlinable
    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        let lower = min(max(range?.lowerBound ?? 0, 0), bytes.count)
        let upper = min(max(range?.upperBound ?? bytes.count, lower), bytes.count)
        self.position = lower
        self.endIndex = upper
    }

    /// The number of bytes left to read.
    @inlinable
    public var remaining: Int { endIndex - position }

    /// Whether every byte has been consumed.
    @inlinable
    public var isAtEnd: Bool { position >= endIndex }

    /// Reads a variable-length integer (RFC 9000 §16).
    @inlinable
    public mutating func readVarInt() throws(WireError) -> UInt64 {
        guard position < endIndex else { throw .truncated }
        let first = bytes[position]
        let length = VarInt.encodedLength(firstByte: first)
        guard endIndex - position >= length else { throw .truncated }
        var value = UInt64(first & 0x3f)
        var index = position + 1
        let end = position + length
        while index < end {
            value = (value << 8) | UInt64(bytes[index])
            index += 1
        }
        position = end
        return value
    }

    /// Reads a variable-length integer and returns it with the number of bytes its encoding took.
    ///
    /// Frame types must use the shortest encoding (RFC 9000 §12.4), which needs the encoded width.
    @inlinable
    public mutating func readVarIntWithLength() throws(WireError) -> (value: UInt64, length: Int) {
        let start = position
        let value = try readVarInt()
        return (value, position - start)
    }

    /// Reads one byte.
    @inlinable
    public mutating func readUInt8() throws(WireError) -> UInt8 {
        guard position < endIndex else { throw .truncated }
        let value = bytes[position]
        position += 1
        return value
    }

    /// Reads a big-endian 16-bit integer (network byte order, RFC 9000 §1.3).
    @inlinable
    public mutating func readUInt16() throws(WireError) -> UInt16 {
        UInt16(truncatingIfNeeded: try readBigEndian(byteCount: 2))
    }

    /// Reads a big-endian 32-bit integer.
    @inlinable
    public mutating func readUInt32() throws(WireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readBigEndian(byteCount: 4))
    }

    /// Reads a big-endian 64-bit integer.
    @inlinable
    public mutating func readUInt64() throws(WireError) -> UInt64 {
        try readBigEndian(byteCount: 8)
    }

    /// Reads a big-endian unsigned integer of 1…8 bytes (e.g. a truncated packet number, RFC 9000 §17.1).
    @inlinable
    public mutating func readBigEndian(byteCount: Int) throws(WireError) -> UInt64 {
        guard byteCount >= 0, byteCount <= 8, endIndex - position >= byteCount else { throw .truncated }
        var value: UInt64 = 0
        var index = position
        let end = position + byteCount
        while index < end {
            value = (value << 8) | UInt64(bytes[index])
            index += 1
        }
        position = end
        return value
    }

    /// Reads `count` bytes as a slice sharing the reader's storage.
    @inlinable
    public mutating func readBytes(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= endIndex - position else { throw .truncated }
        let slice = bytes[position..<(position + count)]
        position += count
        return slice
    }

    /// Reads a byte count given as an untrusted 64-bit value, checking it fits before converting.
    @inlinable
    public mutating func readBytes(count: UInt64) throws(WireError) -> ArraySlice<UInt8> {
        guard count <= UInt64(endIndex - position) else { throw .truncated }
        return try readBytes(Int(count))
    }

    /// Reads a varint length followed by that many bytes (RFC 9000 §19 length-prefixed fields).
    @inlinable
    public mutating func readVarIntPrefixedBytes() throws(WireError) -> ArraySlice<UInt8> {
        let count = try readVarInt()
        return try readBytes(count: count)
    }

    /// Reads a connection ID of `length` bytes; throws if `length` exceeds 20 or the input.
    @inlinable
    public mutating func readConnectionID(length: Int) throws(WireError) -> ConnectionID {
        guard length >= 0, length <= ConnectionID.maxLength else { throw .invalidPacket("connection ID too long") }
        let slice = try readBytes(length)
        return ConnectionID(uncheckedSlice: slice)
    }

    /// Advances past `count` bytes.
    @inlinable
    public mutating func skip(_ count: Int) throws(WireError) {
        guard count >= 0, count <= endIndex - position else { throw .truncated }
        position += count
    }

    /// Returns the next byte without consuming it.
    @inlinable
    public func peekUInt8() throws(WireError) -> UInt8 {
        guard position < endIndex else { throw .truncated }
        return bytes[position]
    }
}

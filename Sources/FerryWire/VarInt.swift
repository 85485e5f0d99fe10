/// QUIC variable-length integer helpers (RFC 9000 §16).
///
/// The two most significant bits of the first byte give the encoded length (1, 2, 4 or 8 bytes), leaving 62 bits
/// of value. Reading and writing live on `ByteReader` and `ByteWriter`; this namespace holds the sizing rules.
public enum VarInt {
    /// The largest value a variable-length integer can carry: 2^62 - 1 (RFC 9000 §16).
    public static let maxValue: UInt64 = (1 << 62) - 1

    /// The number of bytes the shortest encoding of `value` takes (RFC 9000 §16, Table 4).
    ///
    /// Values above `maxValue` cannot be encoded; callers must keep values in range.
    @inlinable
    public static func encodedLength(_ value: UInt64) -> Int {
        if value < 0x40 { return 1 }
        if value < 0x4000 { return 2 }
        if value < 0x4000_0000 { return 4 }
        return 8
    }

    /// The encoded length announced by the top two bits of a first byte (RFC 9000 §16).
    @inlinable
    public static func encodedLength(firstByte: UInt8) -> Int {
        1 << Int(firstByte >> 6)
    }
}

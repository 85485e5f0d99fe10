/// Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2, A.3).
///
/// Packets carry only the low 1…4 bytes of their packet number; the sender picks enough bytes to cover twice the
/// range of unacknowledged packets and the receiver reconstructs the full value nearest to the next expected one.
public enum PacketNumber {
    /// The largest valid packet number: 2^62 - 1 (RFC 9000 §12.3).
    public static let maxValue: UInt64 = (1 << 62) - 1

    /// How many bytes (1…4) to encode `packetNumber` with, given the largest packet number the peer acknowledged
    /// (RFC 9000 Appendix A.2).
    @inlinable
    public static func encodedLength(packetNumber: UInt64, largestAcknowledged: UInt64?) -> Int {
        let unacknowledged: UInt64
        if let largestAcknowledged, largestAcknowledged <= packetNumber {
            unacknowledged = packetNumber - largestAcknowledged
        } else {
            unacknowledged = packetNumber &+ 1
        }
        // ceil((log2(n) + 1) / 8) bytes, i.e. the smallest k with n <= 2^(8k - 1).
        if unacknowledged <= 1 << 7 { return 1 }
        if unacknowledged <= 1 << 15 { return 2 }
        if unacknowledged <= 1 << 23 { return 3 }
        return 4
    }

    /// Reconstructs a full packet number from its `length`-byte truncation (RFC 9000 Appendix A.3).
    ///
    /// `largestReceived` is the largest packet number successfully processed in this packet number space, nil
    /// before the first one. Overflow-safe for any input.
    @inlinable
    public static func decode(truncated: UInt64, length: Int, largestReceived: UInt64?) -> UInt64 {
        let bits = UInt64(min(max(length, 1), 4) * 8)
        let expected = largestReceived.map { min($0, maxValue) + 1 } ?? 0
        let window: UInt64 = 1 << bits
        let halfWindow = window / 2
        let mask = window - 1
        let candidate = (expected & ~mask) | (truncated & mask)
        if candidate <= expected &- halfWindow, expected >= halfWindow, candidate < (1 << 62) - window {
            return candidate + window
        }
        if candidate > expected + halfWindow, candidate >= window {
            return candidate - window
        }
        return candidate
    }
}

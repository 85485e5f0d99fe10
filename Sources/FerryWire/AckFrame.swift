/// ECN counters carried by an ACK frame of type 0x03 (RFC 9000 §19.3.2).
///
/// Loss recovery uses an increase in the CE count as a congestion signal (RFC 9002 §7.1).
public struct ECNCounts: Equatable, Sendable {
    /// Packets received with the ECT(0) codepoint.
    public var ect0: UInt64
    /// Packets received with the ECT(1) codepoint.
    public var ect1: UInt64
    /// Packets received with the ECN-CE codepoint.
    public var ce: UInt64

    /// Creates a set of ECN counts.
    public init(ect0: UInt64, ect1: UInt64, ce: UInt64) {
        self.ect0 = ect0
        self.ect1 = ect1
        self.ce = ce
    }
}

/// An ACK frame: the packet numbers received, as descending ranges (RFC 9000 §19.3).
///
/// `ranges[0].upperBound` is `largestAcknowledged`; each later range lies strictly below the previous one with at
/// least one missing packet between them. Encoding requires that shape (the receiver side builds it).
public struct AckFrame: Equatable, Sendable {
    /// The largest packet number acknowledged.
    public var largestAcknowledged: UInt64
    /// The ACK Delay field as encoded, not yet scaled by the ack_delay_exponent (RFC 9000 §18.2).
    public var ackDelay: UInt64
    /// The acknowledged packet numbers, descending and disjoint.
    public var ranges: [ClosedRange<UInt64>]
    /// ECN counts (frame type 0x03) when present.
    public var ecnCounts: ECNCounts?

    /// Creates an ACK frame.
    public init(
        largestAcknowledged: UInt64, ackDelay: UInt64, ranges: [ClosedRange<UInt64>], ecnCounts: ECNCounts? = nil
    ) {
        self.largestAcknowledged = largestAcknowledged
        self.ackDelay = ackDelay
        self.ranges = ranges
        self.ecnCounts = ecnCounts
    }

    /// The size of the fixed part: type, Largest Acknowledged, ACK Delay, ACK Range Count for
    /// `additionalRanges` ranges, and First ACK Range.
    private func baseLength(additionalRanges: Int) -> Int {
        let firstRange = ranges.first.map { largestAcknowledged &- $0.lowerBound } ?? 0
        return 1 + VarInt.encodedLength(largestAcknowledged) + VarInt.encodedLength(ackDelay)
            + VarInt.encodedLength(UInt64(additionalRanges)) + VarInt.encodedLength(firstRange)
            + ecnLength
    }

    private var ecnLength: Int {
        guard let ecn = ecnCounts else { return 0 }
        return VarInt.encodedLength(ecn.ect0) + VarInt.encodedLength(ecn.ect1) + VarInt.encodedLength(ecn.ce)
    }

    /// The encoded size of the (Gap, ACK Range Length) pair for `ranges[index]`, index ≥ 1.
    private func rangeLength(at index: Int) -> Int {
        let previous = ranges[index - 1]
        let current = ranges[index]
        let gap = previous.lowerBound &- current.upperBound &- 2
        return VarInt.encodedLength(gap) + VarInt.encodedLength(current.upperBound &- current.lowerBound)
    }

    /// The encoded size of this frame.
    public var encodedLength: Int {
        let additional = max(ranges.count - 1, 0)
        var length = baseLength(additionalRanges: additional)
        var index = 1
        while index < ranges.count {
            length += rangeLength(at: index)
            index += 1
        }
        return length
    }

    /// A copy that fits in `maxBytes`, dropping the oldest (lowest) ranges; nil if even one range does not fit.
    ///
    /// Keeping the newest ranges preserves the information loss detection needs most (RFC 9000 §13.2.4).
    public func truncated(toFit maxBytes: Int) -> AckFrame? {
        guard !ranges.isEmpty else { return nil }
        if encodedLength <= maxBytes { return self }
        var pairsLength = 0
        var keep = 1
        var index = 1
        while index < ranges.count {
            let candidate = pairsLength + rangeLength(at: index)
            if baseLength(additionalRanges: index) + candidate > maxBytes { break }
            pairsLength = candidate
            keep = index + 1
            index += 1
        }
        guard baseLength(additionalRanges: keep - 1) + pairsLength <= maxBytes else { return nil }
        var copy = self
        copy.ranges.removeSubrange(keep...)
        return copy
    }

    /// Writes the frame (type 0x02, or 0x03 with ECN counts).
    public func encode(into writer: inout ByteWriter) {
        assert(!ranges.isEmpty && ranges[0].upperBound == largestAcknowledged, "ACK ranges must start at largest")
        writer.writeUInt8(ecnCounts == nil ? UInt8(FrameType.ack) : UInt8(FrameType.ackECN))
        writer.writeVarInt(largestAcknowledged)
        writer.writeVarInt(ackDelay)
        writer.writeVarInt(UInt64(max(ranges.count - 1, 0)))
        writer.writeVarInt(ranges.first.map { largestAcknowledged &- $0.lowerBound } ?? 0)
        var index = 1
        while index < ranges.count {
            let previous = ranges[index - 1]
            let current = ranges[index]
            assert(previous.lowerBound >= current.upperBound + 2, "ACK ranges must be descending and disjoint")
            writer.writeVarInt(previous.lowerBound &- current.upperBound &- 2)
            writer.writeVarInt(current.upperBound &- current.lowerBound)
            index += 1
        }
        if let ecn = ecnCounts {
            writer.writeVarInt(ecn.ect0)
            writer.writeVarInt(ecn.ect1)
            writer.writeVarInt(ecn.ce)
        }
    }

    /// Decodes the fields after an ACK type byte, rejecting ranges that would go below packet number 0
    /// (RFC 9000 §19.3.1: FRAME_ENCODING_ERROR).
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> AckFrame {
        let largest = try reader.readVarInt()
        let ackDelay = try reader.readVarInt()
        let rangeCount = try reader.readVarInt()
        let firstRange = try reader.readVarInt()
        guard firstRange <= largest else {
            throw .invalidFrame(type: type, reason: "first ACK range exceeds largest acknowledged")
        }
        // Each further range takes at least two bytes, which bounds the allocation by the input size.
        guard rangeCount <= UInt64(reader.remaining / 2) else { throw .truncated }
        var ranges: [ClosedRange<UInt64>] = []
        ranges.reserveCapacity(Int(rangeCount) + 1)
        var smallest = largest - firstRange
        ranges.append(smallest...largest)
        var index: UInt64 = 0
        while index < rangeCount {
            let gap = try reader.readVarInt()
            let length = try reader.readVarInt()
            guard smallest >= 2, gap <= smallest - 2 else {
                throw .invalidFrame(type: type, reason: "ACK gap goes below packet number 0")
            }
            let high = smallest - gap - 2
            guard length <= high else {
                throw .invalidFrame(type: type, reason: "ACK range goes below packet number 0")
            }
            smallest = high - length
            ranges.append(smallest...high)
            index += 1
        }
        var ecnCounts: ECNCounts?
        if type == FrameType.ackECN {
            ecnCounts = ECNCounts(
                ect0: try reader.readVarInt(), ect1: try reader.readVarInt(), ce: try reader.readVarInt())
        }
        return AckFrame(largestAcknowledged: largest, ackDelay: ackDelay, ranges: ranges, ecnCounts: ecnCounts)
    }
}

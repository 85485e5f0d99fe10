/// Application bytes queued for sending on one stream (or one CRYPTO stream), addressed by absolute offset.
///
/// RFC 9000 §2.2 and §13.3: data is sent once in order, retransmitted only when the packet carrying it is declared
/// lost, and released once acknowledged. Bytes are copied once on `append` into ring storage and once more,
/// straight into the packet, by `emit`; nothing is allocated per frame. Lost ranges are sent before new data.
///
/// Typical send loop (what `StreamManager` does; core can do the same for CRYPTO with `CryptoFrame` headers):
/// ```
/// guard let segment = buffer.nextSegment(maxLength: room, newDataLimit: credit) else { return }
/// // write a frame header for segment.offset / segment.length, then:
/// buffer.emit(segment, into: &writer)
/// ```
public struct SendBuffer {
    /// One range chosen for the next frame.
    public struct Segment: Equatable, Sendable {
        /// Absolute offset of the first byte.
        public var offset: UInt64
        /// Bytes in the frame (may be 0 for a FIN-only frame).
        public var length: Int
        /// Whether the frame carries FIN (`offset + length` is the final size).
        public var fin: Bool
        /// Whether this resends a lost range (not limited by flow control, RFC 9000 §4.1).
        public var isRetransmission: Bool

        public init(offset: UInt64, length: Int, fin: Bool, isRetransmission: Bool) {
            self.offset = offset
            self.length = length
            self.fin = fin
            self.isRetransmission = isRetransmission
        }
    }

    private var ring = ByteRing()
    /// Every byte below this offset has been acknowledged and released.
    public private(set) var acknowledgedOffset: UInt64 = 0
    /// The offset of the next never-sent byte.
    public private(set) var unsentOffset: UInt64 = 0
    /// The offset just past the last appended byte.
    public private(set) var endOffset: UInt64 = 0
    /// The final size once `finish()` was called (RFC 9000 §4.5).
    public private(set) var finalSize: UInt64?
    private var acknowledged = OffsetRangeSet()
    private var lost = OffsetRangeSet()
    private var isFinPending = false
    /// Whether the FIN has been acknowledged.
    public private(set) var isFinAcknowledged = false

    /// Creates an empty buffer starting at offset 0.
    public init() {}

    /// Bytes appended but not yet acknowledged (memory held).
    public var bufferedCount: Int { Int(endOffset - acknowledgedOffset) }

    /// Bytes appended but never sent.
    public var unsentCount: Int { Int(endOffset - unsentOffset) }

    /// Whether lost ranges or a lost FIN wait to be resent.
    public var hasRetransmission: Bool { !lost.isEmpty }

    /// Whether `nextSegment` would return something given `newDataLimit` bytes of flow-control credit.
    @inline(__always)
    public func hasSendableData(newDataLimit: UInt64) -> Bool {
        !lost.isEmpty || (unsentOffset < endOffset && newDataLimit > 0) || (isFinPending && finalSize == unsentOffset)
    }

    /// Whether new (never sent) data waits but `newDataLimit` is zero: flow control blocks this buffer.
    public func isBlocked(newDataLimit: UInt64) -> Bool {
        lost.isEmpty && unsentOffset < endOffset && newDataLimit == 0
    }

    /// Whether a FIN still has to be sent (first time or after loss).
    public var needsFin: Bool { isFinPending }

    /// Whether all data and the FIN were acknowledged (RFC 9000 §3.1 "Data Recvd").
    public var isFullyAcknowledged: Bool {
        guard let finalSize else { return false }
        return isFinAcknowledged && acknowledgedOffset == finalSize
    }

    /// Whether everything, FIN included, has been sent at least once (RFC 9000 §3.1 "Data Sent").
    public var isEverythingSent: Bool {
        guard let finalSize else { return false }
        return unsentOffset == finalSize && !isFinPending
    }

    /// Appends bytes (one copy into the ring). Appending after `finish()` is a programmer error and is ignored.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard finalSize == nil, bytes.count > 0 else { return }
        let newEnd = endOffset + UInt64(bytes.count)
        ring.reserve(liveStart: acknowledgedOffset, liveEnd: endOffset, requiredEnd: newEnd)
        ring.write(bytes, at: endOffset)
        endOffset = newEnd
    }

    /// Appends bytes from an array (tests and cold paths).
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Marks the end of the stream: the final size is the current end (RFC 9000 §4.5).
    public mutating func finish() {
        guard finalSize == nil else { return }
        finalSize = endOffset
        isFinPending = true
    }

    /// Chooses the next frame's range: lost data first, then new data up to `newDataLimit` bytes (the flow-control
    /// credit), at most `maxLength` bytes. Returns nil when there is nothing to send. Does not change the buffer.
    public func nextSegment(maxLength: Int, newDataLimit: UInt64) -> Segment? {
        if let range = lost.first {
            let length = min(Int(clamping: range.upperBound - range.lowerBound), max(maxLength, 0))
            guard length > 0 else { return nil }
            let fin = isFinPending && finalSize == range.lowerBound + UInt64(length)
            return Segment(offset: range.lowerBound, length: length, fin: fin, isRetransmission: true)
        }
        let available = min(UInt64(unsentCount), newDataLimit)
        let length = Int(min(available, UInt64(max(maxLength, 0))))
        let end = unsentOffset + UInt64(length)
        let fin = isFinPending && finalSize == end
        if length == 0 && !fin { return nil }
        return Segment(offset: unsentOffset, length: length, fin: fin, isRetransmission: false)
    }

    /// Copies the segment's bytes into `writer` (which must have room) and records them as sent.
    public mutating func emit(_ segment: Segment, into writer: inout ByteWriter) {
        ring.copy(offset: segment.offset, length: segment.length, into: &writer)
        markSent(segment)
    }

    /// Records a segment as sent without copying (for callers that copy with `copy(offset:length:into:)`).
    public mutating func markSent(_ segment: Segment) {
        let end = segment.offset + UInt64(segment.length)
        if segment.isRetransmission {
            lost.remove(segment.offset..<end)
        } else {
            unsentOffset = max(unsentOffset, end)
        }
        if segment.fin { isFinPending = false }
    }

    /// Copies `[offset, offset + length)` (still buffered) into `writer`.
    public func copy(offset: UInt64, length: Int, into writer: inout ByteWriter) {
        ring.copy(offset: offset, length: length, into: &writer)
    }

    /// Records an acknowledgement, releasing memory as the acknowledged prefix advances.
    /// Returns true when the acknowledged prefix moved (buffer space was freed).
    @discardableResult
    public mutating func acknowledge(offset: UInt64, length: Int, fin: Bool) -> Bool {
        if fin { isFinAcknowledged = true }
        let end = offset + UInt64(length)
        guard end > acknowledgedOffset else { return false }
        let range = max(offset, acknowledgedOffset)..<end
        lost.remove(range)
        if range.lowerBound > acknowledgedOffset {
            acknowledged.insert(range)
            return false
        }
        acknowledgedOffset = acknowledged.absorbLeading(from: end)
        if acknowledgedOffset == endOffset && ring.capacity > 1 << 20 { ring.release() }
        return true
    }

    /// Records a loss: the not-yet-acknowledged parts of the range (and the FIN) are queued for retransmission.
    public mutating func markLost(offset: UInt64, length: Int, fin: Bool) {
        if fin && !isFinAcknowledged { isFinPending = true }
        let end = offset + UInt64(length)
        let start = max(offset, acknowledgedOffset)
        guard end > start else { return }
        lost.insert(start..<end)
        for range in acknowledged.ranges where range.lowerBound < end && range.upperBound > start {
            lost.remove(range)
        }
    }

    /// Drops all data (RESET_STREAM sent, RFC 9000 §3.1): nothing more will be sent or retransmitted.
    public mutating func discard() {
        lost.removeAll()
        acknowledged.removeAll()
        acknowledgedOffset = endOffset
        unsentOffset = endOffset
        isFinPending = false
        ring.release()
    }

    /// Lost ranges awaiting retransmission (for tests and diagnostics).
    public var lostRanges: [Range<UInt64>] { lost.ranges }
}

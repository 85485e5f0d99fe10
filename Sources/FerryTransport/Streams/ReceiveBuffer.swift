/// Reassembly of one stream's (or CRYPTO stream's) received bytes, addressed by absolute offset.
///
/// RFC 9000 §2.2: data can arrive out of order, overlapping or duplicated, and is delivered to the application
/// in order. Bytes are written straight into ring storage at their offset; a set of received ranges tracks gaps.
/// In-order arrival (the common case) is O(1): one copy, no range bookkeeping. Final-size consistency (RFC 9000
/// §4.5) is checked by `setFinalSize` and `validate`, which the stream layer turns into FINAL_SIZE_ERROR.
public struct ReceiveBuffer {
    private var ring = ByteRing()
    /// Bytes below this offset were consumed by the reader.
    public private(set) var readOffset: UInt64 = 0
    /// Every byte below this offset has been received.
    public private(set) var contiguousEnd: UInt64 = 0
    /// The largest offset + length seen (RFC 9000 §4.5 "largest offset received").
    public private(set) var highestOffset: UInt64 = 0
    /// The final size once known from FIN or RESET_STREAM.
    public private(set) var finalSize: UInt64?
    private var pending = OffsetRangeSet()

    /// Creates an empty buffer starting at offset 0.
    public init() {}

    /// Bytes ready to read in order.
    public var readableCount: Int { Int(contiguousEnd - readOffset) }

    /// Gaps (separate out-of-order ranges) currently buffered above `contiguousEnd`.
    public var gapCount: Int { pending.count }

    /// Whether every byte up to the final size has arrived (RFC 9000 §3.2 "Data Recvd").
    public var isComplete: Bool { finalSize.map { contiguousEnd == $0 } ?? false }

    /// Whether the reader has consumed every byte up to the final size.
    public var isFullyRead: Bool { finalSize.map { readOffset == $0 } ?? false }

    /// Whether `[offset, offset + length)` with the given FIN flag agrees with the known final size and data
    /// received so far (RFC 9000 §4.5). Returns false for a FINAL_SIZE_ERROR.
    public func validate(offset: UInt64, length: Int, fin: Bool) -> Bool {
        let end = offset + UInt64(length)
        if let finalSize {
            if end > finalSize { return false }
            if fin && end != finalSize { return false }
        } else if fin && end < highestOffset {
            return false
        }
        return true
    }

    /// Records the final size. Returns false (FINAL_SIZE_ERROR) when it contradicts a known final size or data
    /// already received beyond it.
    @discardableResult
    public mutating func setFinalSize(_ size: UInt64) -> Bool {
        if let finalSize { return finalSize == size }
        guard size >= highestOffset else { return false }
        finalSize = size
        return true
    }

    /// Stores received bytes. Already-received parts are ignored. Returns true when new in-order data became
    /// readable. Callers validate flow control and final size first.
    @discardableResult
    public mutating func insert(offset: UInt64, bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        let end = offset + UInt64(count)
        if end > highestOffset { highestOffset = end }
        guard end > contiguousEnd, count > 0 else { return false }
        if offset == contiguousEnd && pending.isEmpty {
            // Fast path: in-order data.
            ring.reserve(liveStart: readOffset, liveEnd: contiguousEnd, requiredEnd: end)
            ring.write(bytes, at: offset)
            contiguousEnd = end
            return true
        }
        let start = max(offset, contiguousEnd)
        let skip = Int(start - offset)
        let liveEnd = max(contiguousEnd, pending.ranges.last?.upperBound ?? contiguousEnd)
        ring.reserve(liveStart: readOffset, liveEnd: liveEnd, requiredEnd: max(end, liveEnd))
        ring.write(UnsafeRawBufferPointer(rebasing: bytes[skip...]), at: start)
        if start == contiguousEnd {
            contiguousEnd = pending.absorbLeading(from: end)
            return true
        }
        pending.insert(start..<end)
        return false
    }

    /// Stores received bytes from a frame's slice.
    @discardableResult
    public mutating func insert(offset: UInt64, bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBytes { insert(offset: offset, bytes: $0) }
    }

    /// Reads up to `maxLength` in-order bytes into a new array (empty when nothing is readable).
    public mutating func read(maxLength: Int) -> [UInt8] {
        let count = min(readableCount, max(maxLength, 0))
        guard count > 0 else { return [] }
        let result = [UInt8](unsafeUninitializedCapacity: count) { storage, initialized in
            ring.copy(offset: readOffset, length: count, into: UnsafeMutableRawBufferPointer(storage))
            initialized = count
        }
        readOffset += UInt64(count)
        return result
    }

    /// Reads in-order bytes into `destination`; returns how many were copied.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(readableCount, destination.count)
        guard count > 0 else { return 0 }
        ring.copy(offset: readOffset, length: count, into: destination)
        readOffset += UInt64(count)
        return count
    }

    /// Drops everything buffered (RESET_STREAM received or STOP_SENDING sent): the reader skips to the highest
    /// offset seen. Returns how many unread bytes were dropped counting up to `upTo` (for flow-control release).
    @discardableResult
    public mutating func discard(upTo end: UInt64) -> UInt64 {
        let target = max(end, highestOffset)
        let dropped = target - readOffset
        readOffset = target
        contiguousEnd = target
        highestOffset = target
        pending.removeAll()
        ring.release()
        return dropped
    }
}

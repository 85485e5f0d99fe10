/// Power-of-two ring storage addressed by absolute stream offset.
///
/// Both stream buffers keep a sliding window of a stream's byte space (RFC 9000 §2.2): the send side holds
/// `[acknowledged prefix, written end)`, the receive side `[read offset, highest received)`. Mapping an absolute
/// offset to `offset & mask` gives O(1) addressing with at most two `memcpy` segments per copy, and the memory is
/// reused as the window slides instead of being allocated per frame.
struct ByteRing {
    /// Backing bytes; `count` is zero or a power of two.
    private var storage: [UInt8] = []

    /// Addressable bytes.
    var capacity: Int { storage.count }

    /// Makes `[liveStart, requiredEnd)` addressable, keeping the bytes of `[liveStart, liveEnd)`.
    @inline(__always)
    mutating func reserve(liveStart: UInt64, liveEnd: UInt64, requiredEnd: UInt64) {
        let span = requiredEnd &- liveStart
        if span <= UInt64(storage.count) { return }
        grow(liveStart: liveStart, liveEnd: liveEnd, span: span)
    }

    private mutating func grow(liveStart: UInt64, liveEnd: UInt64, span: UInt64) {
        var newCapacity = max(storage.count, 4096)
        while UInt64(newCapacity) < span { newCapacity <<= 1 }
        var newStorage = [UInt8](repeating: 0, count: newCapacity)
        let liveCount = Int(liveEnd &- liveStart)
        if liveCount > 0 {
            newStorage.withUnsafeMutableBytes { destination in
                let newMask = UInt64(newCapacity - 1)
                storage.withUnsafeBytes { source in
                    var copied = 0
                    Self.forEachSegment(offset: liveStart, length: liveCount, capacity: source.count) { position, count in
                        var remaining = count
                        var sourcePosition = position
                        while remaining > 0 {
                            let target = Int((liveStart &+ UInt64(copied)) & newMask)
                            let run = min(remaining, newCapacity - target)
                            UnsafeMutableRawBufferPointer(rebasing: destination[target..<(target + run)])
                                .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[sourcePosition..<(sourcePosition + run)]))
                            remaining -= run
                            sourcePosition += run
                            copied += run
                        }
                    }
                }
            }
        }
        storage = newStorage
    }

    /// Calls `body(position, count)` for the one or two contiguous runs holding `[offset, offset + length)`.
    @inline(__always)
    static func forEachSegment(offset: UInt64, length: Int, capacity: Int, _ body: (Int, Int) -> Void) {
        guard length > 0 else { return }
        let position = Int(offset & UInt64(capacity - 1))
        let first = min(length, capacity - position)
        body(position, first)
        if first < length { body(0, length - first) }
    }

    /// Stores `bytes` at absolute `offset` (the range must have been reserved).
    @inline(__always)
    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) {
        let capacity = storage.count
        storage.withUnsafeMutableBytes { destination in
            var consumed = 0
            Self.forEachSegment(offset: offset, length: bytes.count, capacity: capacity) { position, count in
                UnsafeMutableRawBufferPointer(rebasing: destination[position..<(position + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[consumed..<(consumed + count)]))
                consumed += count
            }
        }
    }

    /// Copies `[offset, offset + length)` into `writer` without intermediate buffers.
    @inline(__always)
    func copy(offset: UInt64, length: Int, into writer: inout ByteWriter) {
        storage.withUnsafeBytes { source in
            Self.forEachSegment(offset: offset, length: length, capacity: source.count) { position, count in
                writer.writeBytes(UnsafeRawBufferPointer(rebasing: source[position..<(position + count)]))
            }
        }
    }

    /// Copies `[offset, offset + length)` into raw memory of at least `length` bytes.
    @inline(__always)
    func copy(offset: UInt64, length: Int, into destination: UnsafeMutableRawBufferPointer) {
        storage.withUnsafeBytes { source in
            var written = 0
            Self.forEachSegment(offset: offset, length: length, capacity: source.count) { position, count in
                UnsafeMutableRawBufferPointer(rebasing: destination[written..<(written + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<(position + count)]))
                written += count
            }
        }
    }

    /// Frees the storage (call only when nothing live remains).
    mutating func release() {
        storage = []
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The perf protocol's payload: byte `k` (after the 8-byte header) is `k % 251` (shared/perf-protocol.md).
///
/// A prime period means a misplaced or duplicated chunk never lines up by accident. Send chunks are a multiple
/// of the period so every chunk starts at phase 0 and can share one immutable array (no per-write copy).
enum PerfPattern {
    /// The pattern period.
    static let period = 251
    /// Bytes per `write`: a multiple of `period`, large enough to amortise the hop to the event loop.
    static let chunkSize = period * 1024
    /// One send chunk, shared by every writer (copy-on-write arrays are never copied when only read).
    static let chunk: [UInt8] = (0..<chunkSize).map { UInt8($0 % period) }
    /// `chunk` plus one period, so any phase can be compared over up to `chunkSize` bytes.
    static let reference: [UInt8] = (0..<(chunkSize + period)).map { UInt8($0 % period) }

    /// The first `count` pattern bytes, with `prefix` in front (the request header).
    static func firstChunk(prefix: [UInt8], count: Int) -> [UInt8] {
        var bytes = prefix
        bytes.reserveCapacity(prefix.count + count)
        bytes.append(contentsOf: chunk[0..<count])
        return bytes
    }
}

/// Checks received payload bytes against the pattern incrementally.
struct PatternChecker {
    /// Payload bytes seen so far.
    private(set) var offset: UInt64 = 0
    /// Bytes that differed from the pattern.
    private(set) var mismatches: UInt64 = 0

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var position = 0
        PerfPattern.reference.withUnsafeBytes { reference in
            while position < bytes.count {
                let count = min(bytes.count - position, PerfPattern.chunkSize)
                let phase = Int(offset % UInt64(PerfPattern.period))
                let received = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
                let expected = UnsafeRawBufferPointer(rebasing: reference[phase..<(phase + count)])
                guard let receivedBase = received.baseAddress, let expectedBase = expected.baseAddress else { return }
                if memcmp(receivedBase, expectedBase, count) != 0 {
                    mismatches += UInt64(zip(received, expected).reduce(0) { $0 + ($1.0 == $1.1 ? 0 : 1) })
                }
                offset += UInt64(count)
                position += count
            }
        }
    }
}

/// The outgoing half of one encryption level's CRYPTO stream (RFC 9000 §19.6).
///
/// Handshake messages are small (a few KiB), so all bytes stay buffered until the level is discarded; lost
/// ranges are queued for retransmission ahead of new data (RFC 9000 §13.3).
struct CryptoSendStream {
    private(set) var bytes: [UInt8] = []
    private var nextOffset = 0
    private var retransmissions: [Range<Int>] = []

    /// Whether anything (new or lost) waits to be sent.
    var hasPendingData: Bool { nextOffset < bytes.count || !retransmissions.isEmpty }

    /// Whether bytes were ever queued; used to decide whether a level has begun.
    var totalLength: Int { bytes.count }

    mutating func append(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
    }

    /// Writes one CRYPTO frame of at most `maxFrameLength` bytes; returns what it carried, or nil if nothing fit.
    mutating func writeFrame(into writer: inout ByteWriter, maxFrameLength: Int) -> (offset: UInt64, length: Int)? {
        var range: Range<Int>
        let isRetransmission: Bool
        if let first = retransmissions.first {
            range = first
            isRetransmission = true
        } else if nextOffset < bytes.count {
            range = nextOffset..<bytes.count
            isRetransmission = false
        } else {
            return nil
        }
        let header = CryptoFrame.headerLength(offset: UInt64(range.lowerBound), length: range.count)
        guard maxFrameLength > header + 1 else { return nil }
        let length = min(range.count, maxFrameLength - header)
        range = range.lowerBound..<(range.lowerBound + length)
        CryptoFrame.encodeHeader(offset: UInt64(range.lowerBound), length: length, into: &writer)
        bytes.withUnsafeBytes { source in
            writer.writeBytes(UnsafeRawBufferPointer(rebasing: source[range]))
        }
        if isRetransmission {
            if length == retransmissions[0].count {
                retransmissions.removeFirst()
            } else {
                retransmissions[0] = range.upperBound..<retransmissions[0].upperBound
            }
        } else {
            nextOffset = range.upperBound
        }
        return (UInt64(range.lowerBound), length)
    }

    /// Queues a lost range for retransmission (RFC 9000 §13.3).
    mutating func onLost(offset: UInt64, length: Int) {
        let start = Int(offset)
        let end = min(start + length, bytes.count)
        guard start < end else { return }
        retransmissions.append(start..<end)
    }

    /// Resends everything not yet known to be received, for PTO probes (RFC 9002 §6.2.4).
    mutating func requeueUnacknowledged() {
        if nextOffset > 0 {
            retransmissions = [0..<nextOffset]
        }
    }
}

/// The incoming half of a CRYPTO stream: reorders frames and yields contiguous bytes for TLS (RFC 9000 §19.6).
struct CryptoReceiveStream {
    /// The offset of the next byte TLS needs.
    private(set) var readOffset: UInt64 = 0
    private var chunks: [(offset: UInt64, data: [UInt8])] = []

    /// How far ahead of `readOffset` data may be buffered before CRYPTO_BUFFER_EXCEEDED (RFC 9000 §7.5).
    static let bufferLimit: UInt64 = 64 * 1024

    /// Adds a received frame; returns contiguous new bytes (possibly empty).
    mutating func insert(offset: UInt64, data: ArraySlice<UInt8>) throws(TransportError) -> [UInt8] {
        let end = offset + UInt64(data.count)
        guard end <= readOffset + Self.bufferLimit else {
            throw TransportError(.cryptoBufferExceeded, frameType: 0x06, reason: "CRYPTO data too far ahead")
        }
        guard end > readOffset else { return [] }
        var output: [UInt8] = []
        if offset <= readOffset {
            output.append(contentsOf: data.dropFirst(Int(readOffset - offset)))
            readOffset = end
        } else {
            chunks.append((offset, Array(data)))
            return []
        }
        // Drain buffered chunks that are now contiguous.
        var progressed = true
        while progressed {
            progressed = false
            var index = 0
            while index < chunks.count {
                let chunk = chunks[index]
                let chunkEnd = chunk.offset + UInt64(chunk.data.count)
                if chunk.offset <= readOffset {
                    if chunkEnd > readOffset {
                        output.append(contentsOf: chunk.data.dropFirst(Int(readOffset - chunk.offset)))
                        readOffset = chunkEnd
                        progressed = true
                    }
                    chunks.remove(at: index)
                } else {
                    index += 1
                }
            }
        }
        return output
    }
}

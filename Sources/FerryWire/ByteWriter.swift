/// A cursor that writes QUIC encodings into caller-owned memory.
///
/// It never allocates, so the send path can build packets straight into a datagram buffer (the quinn
/// `poll_transmit` contract). Writing past capacity is a programmer error and traps via `precondition`;
/// callers check `remaining` first.
public struct ByteWriter {
    /// The memory being written.
    public let buffer: UnsafeMutableRawBufferPointer
    /// The index of the next byte to write.
    public var position: Int

    /// Creates a writer over `buffer`, starting at `position`.
    @inlinable
    public init(_ buffer: UnsafeMutableRawBufferPointer, position: Int = 0) {
        precondition(position >= 0 && position <= buffer.count, "ByteWriter position out of range")
        self.buffer = buffer
        self.position = position
    }

    /// Bytes left before the end of the buffer.
    @inlinable
    public var remaining: Int { buffer.count - position }

    /// Writes a variable-length integer in its shortest form (RFC 9000 §16).
    @inlinable
    public mutating func writeVarInt(_ value: UInt64) {
        if value < 0x40 {
            writeUInt8(UInt8(truncatingIfNeeded: value))
        } else if value < 0x4000 {
            writeUInt16(UInt16(truncatingIfNeeded: value) | 0x4000)
        } else if value < 0x4000_0000 {
            writeUInt32(UInt32(truncatingIfNeeded: value) | 0x8000_0000)
        } else {
            precondition(value <= VarInt.maxValue, "varint value out of range")
            writeUInt64(value | 0xC000_0000_0000_0000)
        }
    }

    /// Writes a variable-length integer with a fixed width of 1, 2, 4 or 8 bytes.
    ///
    /// Used for Length fields that are reserved before the payload size is known (RFC 9000 §17.2).
    @inlinable
    public mutating func writeVarInt(_ value: UInt64, encodedLength: Int) {
        switch encodedLength {
        case 1:
            precondition(value < 0x40, "varint does not fit 1 byte")
            writeUInt8(UInt8(truncatingIfNeeded: value))
        case 2:
            precondition(value < 0x4000, "varint does not fit 2 bytes")
            writeUInt16(UInt16(truncatingIfNeeded: value) | 0x4000)
        case 4:
            precondition(value < 0x4000_0000, "varint does not fit 4 bytes")
            writeUInt32(UInt32(truncatingIfNeeded: value) | 0x8000_0000)
        case 8:
            precondition(value <= VarInt.maxValue, "varint value out of range")
            writeUInt64(value | 0xC000_0000_0000_0000)
        default:
            preconditionFailure("varint length must be 1, 2, 4 or 8")
        }
    }

    /// Writes one byte.
    @inlinable
    public mutating func writeUInt8(_ value: UInt8) {
        precondition(position < buffer.count, "ByteWriter overflow")
        buffer[position] = value
        position += 1
    }

    /// Writes a big-endian 16-bit integer.
    @inlinable
    public mutating func writeUInt16(_ value: UInt16) {
        precondition(buffer.count - position >= 2, "ByteWriter overflow")
        buffer.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt16.self)
        position += 2
    }

    /// Writes a big-endian 32-bit integer.
    @inlinable
    public mutating func writeUInt32(_ value: UInt32) {
        precondition(buffer.count - position >= 4, "ByteWriter overflow")
        buffer.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt32.self)
        position += 4
    }

    /// Writes a big-endian 64-bit integer.
    @inlinable
    public mutating func writeUInt64(_ value: UInt64) {
        precondition(buffer.count - position >= 8, "ByteWriter overflow")
        buffer.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt64.self)
        position += 8
    }

    /// Writes the low `byteCount` (1…8) bytes of `value` big-endian, e.g. a truncated packet number.
    @inlinable
    public mutating func writeBigEndian(_ value: UInt64, byteCount: Int) {
        precondition(byteCount >= 1 && byteCount <= 8, "byte count must be 1…8")
        precondition(buffer.count - position >= byteCount, "ByteWriter overflow")
        var shift = (byteCount - 1) * 8
        while shift >= 0 {
            buffer[position] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
            position += 1
            shift -= 8
        }
    }

    /// Copies `bytes` into the buffer (a single memcpy when the collection is contiguous).
    @inlinable
    public mutating func writeBytes(_ bytes: some Collection<UInt8>) {
        let copied: Void? = bytes.withContiguousStorageIfAvailable { source in
            writeBytes(UnsafeRawBufferPointer(source))
        }
        if copied == nil {
            precondition(buffer.count - position >= bytes.count, "ByteWriter overflow")
            for byte in bytes {
                buffer[position] = byte
                position += 1
            }
        }
    }

    /// Copies raw bytes into the buffer.
    @inlinable
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        guard count > 0 else { return }
        precondition(buffer.count - position >= count, "ByteWriter overflow")
        UnsafeMutableRawBufferPointer(rebasing: buffer[position..<(position + count)]).copyMemory(from: bytes)
        position += count
    }

    /// Writes the bytes of a connection ID (without a length prefix).
    @inlinable
    public mutating func writeConnectionID(_ connectionID: ConnectionID) {
        connectionID.withUnsafeBytes { writeBytes($0) }
    }

    /// Writes `count` zero bytes (PADDING frames, RFC 9000 §19.1).
    @inlinable
    public mutating func writeZeros(_ count: Int) {
        guard count > 0 else { return }
        precondition(buffer.count - position >= count, "ByteWriter overflow")
        UnsafeMutableRawBufferPointer(rebasing: buffer[position..<(position + count)]).initializeMemory(
            as: UInt8.self, repeating: 0)
        position += count
    }

    /// Encodes into a fresh array of at most `capacity` bytes; for tests and cold paths only.
    public static func encode(capacity: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: max(capacity, 0)) { storage, count in
            storage.initialize(repeating: 0)
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(storage))
            body(&writer)
            count = writer.position
        }
    }
}

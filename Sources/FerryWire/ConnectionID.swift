/// A QUIC connection ID of 0…20 bytes, stored inline (RFC 9000 §5.1, §17.2).
///
/// Connection IDs are looked up in a routing table for every received datagram, so the type holds its bytes in
/// a fixed 20-byte tuple plus a length: copying, comparing and hashing never touch the heap.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// The longest connection ID QUIC v1 allows (RFC 9000 §17.2).
    public static let maxLength = 20

    /// The zero-length connection ID.
    public static let empty = ConnectionID()

    @usableFromInline var storage: (UInt64, UInt64, UInt32)
    @usableFromInline var length: UInt8

    @inlinable
    init() {
        storage = (0, 0, 0)
        length = 0
    }

    /// Creates a connection ID from raw bytes; nil when longer than 20 bytes.
    @inlinable
    public init?(_ bytes: some Collection<UInt8>) {
        let count = bytes.count
        guard count <= ConnectionID.maxLength else { return nil }
        self.init()
        length = UInt8(count)
        Swift.withUnsafeMutableBytes(of: &storage) { destination in
            var index = 0
            for byte in bytes {
                destination[index] = byte
                index += 1
            }
        }
    }

    /// Creates a connection ID from raw memory; nil when longer than 20 bytes.
    @inlinable
    public init?(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count <= ConnectionID.maxLength else { return nil }
        self.init()
        length = UInt8(buffer.count)
        if buffer.count > 0 {
            Swift.withUnsafeMutableBytes(of: &storage) { destination in
                UnsafeMutableRawBufferPointer(rebasing: destination[0..<buffer.count]).copyMemory(from: buffer)
            }
        }
    }

    /// Creates a connection ID from a slice already known to be at most 20 bytes.
    @inlinable
    init(uncheckedSlice slice: ArraySlice<UInt8>) {
        self.init()
        length = UInt8(truncatingIfNeeded: slice.count)
        slice.withUnsafeBytes { source in
            Swift.withUnsafeMutableBytes(of: &storage) { destination in
                UnsafeMutableRawBufferPointer(rebasing: destination[0..<source.count]).copyMemory(from: source)
            }
        }
    }

    /// Makes a random connection ID of `length` bytes (0…20) from `generator`.
    ///
    /// Routing IDs should come from a cryptographically secure generator (RFC 9000 §5.1); the system generator is.
    public static func random(length: Int, using generator: inout some RandomNumberGenerator) -> ConnectionID {
        precondition(length >= 0 && length <= maxLength, "connection ID length must be 0…20")
        var id = ConnectionID()
        id.length = UInt8(length)
        // One 64-bit draw per 8 bytes: with the system generator every draw is a getrandom call.
        Swift.withUnsafeMutableBytes(of: &id.storage) { destination in
            var index = 0
            while index < length {
                var word = generator.next()
                for _ in 0..<8 where index < length {
                    destination[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
        }
        return id
    }

    /// Makes a random connection ID of `length` bytes with the system's secure generator.
    public static func random(length: Int) -> ConnectionID {
        var generator = SystemRandomNumberGenerator()
        return random(length: length, using: &generator)
    }

    /// The length in bytes (0…20).
    @inlinable
    public var count: Int { Int(length) }

    /// Whether this is the zero-length connection ID.
    @inlinable
    public var isEmpty: Bool { length == 0 }

    /// The bytes as a fresh array (allocates; prefer `withUnsafeBytes` on hot paths).
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Calls `body` with the connection ID's bytes, without copying them to the heap.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = storage
        let count = Int(length)
        return try Swift.withUnsafeBytes(of: &copy) { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    @inlinable
    public static func == (lhs: ConnectionID, rhs: ConnectionID) -> Bool {
        lhs.length == rhs.length && lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1
            && lhs.storage.2 == rhs.storage.2
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(length)
        hasher.combine(storage.0)
        hasher.combine(storage.1)
        hasher.combine(storage.2)
    }

    /// Lowercase hex, e.g. `8394c8f03e515708`.
    public var description: String {
        withUnsafeBytes { raw in
            raw.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
        }
    }
}

/// A 16-byte stateless reset token, stored inline (RFC 9000 §10.3).
///
/// Endpoints compare the tail of every undecryptable datagram against known tokens, so the type is two words
/// with no heap storage.
public struct StatelessResetToken: Hashable, Sendable, CustomStringConvertible {
    /// The token length in bytes (RFC 9000 §10.3).
    public static let length = 16

    @usableFromInline var storage: (UInt64, UInt64)

    /// Creates a token from exactly 16 bytes; nil for any other length.
    @inlinable
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == StatelessResetToken.length else { return nil }
        storage = (0, 0)
        Swift.withUnsafeMutableBytes(of: &storage) { destination in
            var index = 0
            for byte in bytes {
                destination[index] = byte
                index += 1
            }
        }
    }

    /// The 16 bytes as a fresh array.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Calls `body` with the token's bytes.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = storage
        return try Swift.withUnsafeBytes(of: &copy) { try body($0) }
    }

    /// Compares without an early exit, so timing does not leak how many leading bytes match (RFC 9000 §10.3.1).
    @inlinable
    public static func == (lhs: StatelessResetToken, rhs: StatelessResetToken) -> Bool {
        ((lhs.storage.0 ^ rhs.storage.0) | (lhs.storage.1 ^ rhs.storage.1)) == 0
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.0)
        hasher.combine(storage.1)
    }

    /// Lowercase hex.
    public var description: String {
        withUnsafeBytes { raw in
            raw.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
        }
    }
}

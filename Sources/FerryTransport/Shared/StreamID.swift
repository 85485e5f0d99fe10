/// A QUIC stream identifier (RFC 9000 §2.1).
///
/// The two low bits encode who opened the stream and whether it is bidirectional; the rest is the stream's index
/// among streams of that kind.
public struct StreamID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The `index`-th stream of a kind: opened by `initiator`, bidirectional or not.
    public init(index: UInt64, initiator: Side, isBidirectional: Bool) {
        rawValue = index << 2 | (initiator == .server ? 0x1 : 0) | (isBidirectional ? 0 : 0x2)
    }

    /// Which side opened the stream (bit 0x1).
    public var initiator: Side { rawValue & 0x1 == 0 ? .client : .server }

    /// Whether data flows both ways (bit 0x2 clear).
    public var isBidirectional: Bool { rawValue & 0x2 == 0 }

    /// The stream's position among streams of the same initiator and direction.
    public var index: UInt64 { rawValue >> 2 }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "stream \(rawValue)" }
}

/// The kind of a QUIC packet (RFC 9000 §17.2, §17.3).
///
/// The type decides which encryption level protects the packet and which frames it may carry (§12.4, Table 3).
public enum PacketType: Sendable, Hashable, CustomStringConvertible {
    /// Long header, type 0x00: carries the first CRYPTO frames (RFC 9000 §17.2.2).
    case initial
    /// Long header, type 0x01: early application data (RFC 9000 §17.2.3).
    case zeroRTT
    /// Long header, type 0x02: the rest of the handshake (RFC 9000 §17.2.4).
    case handshake
    /// Long header, type 0x03: address validation by the server (RFC 9000 §17.2.5).
    case retry
    /// Long header with version 0 (RFC 9000 §17.2.1).
    case versionNegotiation
    /// Short header, 1-RTT protected (RFC 9000 §17.3.1).
    case oneRTT

    /// The two Long Packet Type bits for QUIC v1 (RFC 9000 §17.2, Table 5); nil for types without them.
    @inlinable
    public var longHeaderTypeBits: UInt8? {
        switch self {
        case .initial: 0x00
        case .zeroRTT: 0x01
        case .handshake: 0x02
        case .retry: 0x03
        case .versionNegotiation, .oneRTT: nil
        }
    }

    public var description: String {
        switch self {
        case .initial: "Initial"
        case .zeroRTT: "0-RTT"
        case .handshake: "Handshake"
        case .retry: "Retry"
        case .versionNegotiation: "VersionNegotiation"
        case .oneRTT: "1-RTT"
        }
    }
}

/// QUIC version numbers (RFC 9000 §15).
public enum QUICVersion {
    /// QUIC version 1 (RFC 9000).
    public static let version1: UInt32 = 0x0000_0001

    /// The versions this implementation speaks, in preference order.
    public static let supported: [UInt32] = [version1]

    /// Whether `version` is reserved for forcing version negotiation (0x?a?a?a?a, RFC 9000 §15).
    @inlinable
    public static func isGrease(_ version: UInt32) -> Bool {
        version & 0x0f0f_0f0f == 0x0a0a_0a0a
    }
}

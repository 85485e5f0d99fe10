/// An endpoint's identity: its raw 32-byte Ed25519 public key.
///
/// It is written as 64 lowercase hex characters. Dialing by id means the server must prove possession of the
/// matching private key in the TLS handshake, so an id is also the peer's authentication.
public struct EndpointID: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The raw Ed25519 public key.
    public let rawValue: [UInt8]

    /// Wraps a raw public key; returns nil unless it is exactly 32 bytes.
    public init?(rawValue: [UInt8]) {
        guard rawValue.count == 32 else { return nil }
        self.rawValue = rawValue
    }

    /// Parses 64 hex characters (either case accepted, lowercase is canonical).
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.rawValue = bytes
    }

    /// The canonical text form: 64 lowercase hex characters.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in rawValue {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    /// A short form for logs: the first 10 hex characters.
    public var shortDescription: String { String(hex.prefix(10)) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue.lexicographicallyPrecedes(rhs.rawValue) }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

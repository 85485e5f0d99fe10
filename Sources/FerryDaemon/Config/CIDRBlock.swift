import Ferry

/// An IPv4 or IPv6 address block (RFC 4632 CIDR notation), for the `allow-ips` and `deny-ips` hooks.
public struct CIDRBlock: Sendable, Hashable, CustomStringConvertible {
    /// The network address in network byte order (4 or 16 bytes), host bits cleared.
    public let network: [UInt8]
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `a.b.c.d/n`, `x:y::/n`, or a bare address (a /32 or /128); nil on malformed input.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        guard let address = HostPort(host: String(parts[0]), port: 0).ipAddress else { return nil }
        let maximum = address.count * 8
        var length = maximum
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isNumber), parts[1].count <= 3, let parsed = Int(parts[1]),
                parsed <= maximum
            else { return nil }
            length = parsed
        }
        self.prefixLength = length
        self.network = Self.mask(address, prefixLength: length)
    }

    /// Whether `address` (4 or 16 bytes) lies in the block. IPv4-mapped IPv6 addresses match IPv4 blocks.
    public func contains(_ address: [UInt8]) -> Bool {
        var candidate = address
        if network.count == 4, address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }),
            address[10] == 0xff, address[11] == 0xff
        {
            candidate = Array(address[12..<16])
        }
        guard candidate.count == network.count else { return false }
        return Self.mask(candidate, prefixLength: prefixLength) == network
    }

    /// Whether the host of `address` (an IP literal) lies in the block.
    public func contains(_ address: HostPort) -> Bool {
        guard let bytes = address.ipAddress else { return false }
        return contains(bytes)
    }

    public var description: String {
        let host: String
        if network.count == 4 {
            host = network.map(String.init).joined(separator: ".")
        } else {
            host = stride(from: 0, to: 16, by: 2).map { String(UInt16(network[$0]) << 8 | UInt16(network[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        return "\(host)/\(prefixLength)"
    }

    private static func mask(_ address: [UInt8], prefixLength: Int) -> [UInt8] {
        var result = address
        for index in result.indices {
            let bitsBefore = index * 8
            if bitsBefore >= prefixLength {
                result[index] = 0
            } else if bitsBefore + 8 > prefixLength {
                let keep = prefixLength - bitsBefore
                result[index] &= UInt8(truncatingIfNeeded: 0xff << (8 - keep))
            }
        }
        return result
    }
}

/// Parses the duration syntax of the configuration: a number and a unit (`250ms`, `5s`, `1.5s`, `2m`, `1h`).
public enum DurationText {
    /// The duration, or nil if `text` is not one.
    public static func parse(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), number.first != ".",
                number.last != ".", let value = Double(number), value.isFinite, value >= 0, value * scale < 1e9
            else { return nil }
            // "5m" must not be read as "5" + "m" when the text ends in "ms": ms is checked first above.
            if suffix == "m", text.hasSuffix("ms") { continue }
            return .nanoseconds(Int64((value * scale * 1e9).rounded()))
        }
        return nil
    }

    /// "5s", "250ms", "1.5s".
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 != 0 || milliseconds == 0 { return "\(milliseconds)ms" }
        return "\(milliseconds / 1000)s"
    }
}

/// Strict parsers for IPv4 dotted-quad and IPv6 literals (RFC 4291 §2.2), returning network-order bytes.
///
/// Ferry validates addresses while parsing `EndpointAddress` so a typo is reported at once instead of as a
/// failed DNS lookup at connect time.
enum IPAddressParser {
    /// Parses `a.b.c.d`, each part 0…255 without leading zeros; nil otherwise.
    static func parseIPv4(_ text: some StringProtocol) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        for part in parts {
            guard !part.isEmpty, part.utf8.count <= 3, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                part.utf8.count == 1 || part.utf8.first != UInt8(ascii: "0"),
                let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// Parses an IPv6 literal (with `::` compression and an optional trailing dotted quad); nil otherwise.
    static func parseIPv6(_ text: some StringProtocol) -> [UInt8]? {
        let text = Substring(text)
        guard !text.isEmpty, !text.contains("%") else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawCompression = false
        let halves = splitOnDoubleColon(text)
        guard halves.count <= 2 else { return nil }
        sawCompression = halves.count == 2

        func parseGroups(_ part: String, into groups: inout [UInt16], allowIPv4: Bool) -> Bool {
            if part.isEmpty { return true }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if allowIPv4, index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return false }
                    groups.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    groups.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard !piece.isEmpty, piece.utf8.count <= 4, let value = UInt16(piece, radix: 16) else { return false }
                groups.append(value)
            }
            return true
        }

        if sawCompression {
            guard parseGroups(halves[0], into: &head, allowIPv4: false),
                parseGroups(halves[1], into: &tail, allowIPv4: true),
                head.count + tail.count <= 7
            else { return nil }
        } else {
            guard parseGroups(halves[0], into: &head, allowIPv4: true), head.count == 8 else { return nil }
        }
        let groups = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for group in groups {
            bytes.append(UInt8(group >> 8))
            bytes.append(UInt8(group & 0xff))
        }
        return bytes
    }

    /// Splits on every `::`, so `a::b::c` gives three parts (invalid) and `::1` gives `["", "1"]`.
    private static func splitOnDoubleColon(_ text: Substring) -> [String] {
        var parts: [String] = []
        var current = ""
        var iterator = text.makeIterator()
        var pendingColon = false
        while let character = iterator.next() {
            if character == ":" {
                if pendingColon {
                    parts.append(current)
                    current = ""
                    pendingColon = false
                } else {
                    pendingColon = true
                }
            } else {
                if pendingColon {
                    current.append(":")
                    pendingColon = false
                }
                current.append(character)
            }
        }
        if pendingColon { current.append(":") }
        parts.append(current)
        return parts
    }
}

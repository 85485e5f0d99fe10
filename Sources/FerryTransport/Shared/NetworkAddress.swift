/// An IP address and UDP port, independent of any socket library.
///
/// The sans-IO core keys paths and anti-amplification state by remote address, so it needs a value type that is
/// cheap to hash and compare and never touches the network.
public struct NetworkAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4 or 16 for IPv6, in network order.
    public var ipBytes: [UInt8]
    public var port: UInt16

    /// Returns nil unless `ipBytes` has 4 or 16 bytes.
    public init?(ipBytes: [UInt8], port: UInt16) {
        guard ipBytes.count == 4 || ipBytes.count == 16 else { return nil }
        self.ipBytes = ipBytes
        self.port = port
    }

    public var isIPv4: Bool { ipBytes.count == 4 }

    /// `1.2.3.4:5` or `[::1]:5`.
    public var description: String {
        if isIPv4 {
            return ipBytes.map(String.init).joined(separator: ".") + ":\(port)"
        }
        var groups: [String] = []
        for index in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(ipBytes[index]) << 8 | UInt16(ipBytes[index + 1]), radix: 16))
        }
        return "[" + groups.joined(separator: ":") + "]:\(port)"
    }
}

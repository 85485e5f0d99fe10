#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// IPv4 dotted-quad and IPv6 literals (RFC 4291 §2.2) to network-order bytes, by the C library's `inet_pton`.
///
/// Ferry validates addresses while parsing `EndpointAddress` so a typo is reported at once instead of as a
/// failed DNS lookup at connect time. `inet_pton` is strict: four decimal parts without leading zeros for IPv4,
/// `::` compression and a trailing dotted quad for IPv6, no zone index (`%eth0`), nothing else.
enum IPAddressParser {
    /// Parses `a.b.c.d`; nil otherwise.
    static func parseIPv4(_ text: some StringProtocol) -> [UInt8]? {
        var address = in_addr()
        guard String(text).withCString({ inet_pton(AF_INET, $0, &address) }) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// Parses an IPv6 literal; nil otherwise.
    static func parseIPv6(_ text: some StringProtocol) -> [UInt8]? {
        var address = in6_addr()
        guard String(text).withCString({ inet_pton(AF_INET6, $0, &address) }) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}

import FerryTransport
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts between NIO socket addresses and the transport's `NetworkAddress` without allocating per datagram.
///
/// Both types box their storage, so converting every datagram would allocate twice. A bulk transfer talks to
/// one peer, so a one-entry memo per direction hits almost always; a small bounded dictionary covers servers
/// with many peers. IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2) are folded to IPv4 so a dual-stack socket
/// reports the address the transport dialed.
struct SocketAddressCache {
    /// Whether the socket is IPv6 (IPv4 peers are then reached through mapped addresses).
    let socketIsIPv6: Bool

    private var lastSocketAddress: SocketAddress?
    private var lastNetworkAddress: NetworkAddress?
    private var lastDestination: NetworkAddress?
    private var lastDestinationSocketAddress: SocketAddress?
    private var destinations: [NetworkAddress: SocketAddress] = [:]
    private static let destinationLimit = 4096
    /// Destinations the kernel had no route to when first seen (`hasRoute(to:)`); forgotten on `forgetRoutes()`
    /// (after a rebind or reopened socket) and when the set is full.
    private var unroutable: Set<NetworkAddress> = []
    private static let unroutableLimit = 256

    init(socketIsIPv6: Bool) {
        self.socketIsIPv6 = socketIsIPv6
    }

    /// The transport address for a received datagram's source, or nil for non-IP addresses.
    mutating func networkAddress(for address: SocketAddress) -> NetworkAddress? {
        if let lastSocketAddress, let lastNetworkAddress, lastSocketAddress == address {
            return lastNetworkAddress
        }
        guard let converted = Self.convert(address) else { return nil }
        lastSocketAddress = address
        lastNetworkAddress = converted
        return converted
    }

    /// The socket address to send a transmit to, or nil when this socket cannot reach it.
    mutating func socketAddress(for address: NetworkAddress) -> SocketAddress? {
        if let lastDestination, let lastDestinationSocketAddress, lastDestination == address {
            return lastDestinationSocketAddress
        }
        let socketAddress: SocketAddress
        if let cached = destinations[address] {
            socketAddress = cached
        } else {
            guard !unroutable.contains(address) else { return nil }
            guard let made = Self.makeSocketAddress(address, socketIsIPv6: socketIsIPv6) else { return nil }
            guard Self.hasRoute(to: address) else {
                // NIO closes a datagram socket on ENETUNREACH; never hand the kernel such a destination.
                if unroutable.count >= Self.unroutableLimit { unroutable.removeAll(keepingCapacity: true) }
                unroutable.insert(address)
                return nil
            }
            if destinations.count >= Self.destinationLimit { destinations.removeAll(keepingCapacity: true) }
            destinations[address] = made
            socketAddress = made
        }
        lastDestination = address
        lastDestinationSocketAddress = socketAddress
        return socketAddress
    }

    /// Forgets which destinations had no route (the network may have changed).
    mutating func forgetRoutes() {
        unroutable.removeAll()
    }

    /// Whether the kernel has a route to `address`: `connect` on a throwaway UDP socket sends nothing and fails
    /// with ENETUNREACH (or EACCES, EPERM under a firewall rule) when it has none. Checked once per new
    /// destination, because NIO's datagram channel treats those errors on a real send as fatal and closes the
    /// endpoint's socket: one unroutable hole-punching candidate (a private address on another network, an IPv6
    /// address on an IPv4-only host) would otherwise end every connection.
    static func hasRoute(to address: NetworkAddress) -> Bool {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        #if canImport(Glibc)
        let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        #else
        let descriptor = socket(family, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { return true }
        defer { close(descriptor) }
        guard let target = makeSocketAddress(address, socketIsIPv6: !address.isIPv4) else { return true }
        let result = target.withSockAddr { pointer, length in connect(descriptor, pointer, socklen_t(length)) }
        if result == 0 { return true }
        switch errno {
        case ENETUNREACH, EHOSTUNREACH, EACCES, EPERM, EADDRNOTAVAIL: return false
        default: return true
        }
    }

    /// Converts a NIO address, folding IPv4-mapped IPv6 to IPv4.
    static func convert(_ address: SocketAddress) -> NetworkAddress? {
        switch address {
        case .v4(let v4):
            let raw = v4.address
            let host = UInt32(bigEndian: raw.sin_addr.s_addr)
            let bytes: [UInt8] = [UInt8(host >> 24), UInt8((host >> 16) & 0xff), UInt8((host >> 8) & 0xff), UInt8(host & 0xff)]
            return NetworkAddress(ipBytes: bytes, port: UInt16(bigEndian: raw.sin_port))
        case .v6(let v6):
            let raw = v6.address
            var bytes = withUnsafeBytes(of: raw.sin6_addr) { Array($0) }
            let port = UInt16(bigEndian: raw.sin6_port)
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
                bytes = Array(bytes[12..<16])
            }
            return NetworkAddress(ipBytes: bytes, port: port)
        default:
            return nil
        }
    }

    /// Builds a NIO address for a transport address, mapping IPv4 into IPv6 on an IPv6 socket.
    static func makeSocketAddress(_ address: NetworkAddress, socketIsIPv6: Bool) -> SocketAddress? {
        var ipBytes = address.ipBytes
        if socketIsIPv6, ipBytes.count == 4 {
            ipBytes = [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + ipBytes
        }
        if ipBytes.count == 4 {
            if socketIsIPv6 { return nil }
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = address.port.bigEndian
            let host = UInt32(ipBytes[0]) << 24 | UInt32(ipBytes[1]) << 16 | UInt32(ipBytes[2]) << 8 | UInt32(ipBytes[3])
            raw.sin_addr.s_addr = host.bigEndian
            return SocketAddress(raw)
        }
        guard socketIsIPv6 else { return nil }
        var raw = sockaddr_in6()
        raw.sin6_family = sa_family_t(AF_INET6)
        raw.sin6_port = address.port.bigEndian
        withUnsafeMutableBytes(of: &raw.sin6_addr) { pointer in
            for index in 0..<16 { pointer[index] = ipBytes[index] }
        }
        return SocketAddress(raw)
    }
}

extension NetworkAddress {
    /// The address as a `HostPort` (IP literal host).
    var hostPort: HostPort {
        if isIPv4 {
            return HostPort(host: ipBytes.map(String.init).joined(separator: "."), port: port)
        }
        let text = description  // "[v6]:port"
        let host = text.dropFirst().prefix { $0 != "]" }
        return HostPort(host: String(host), port: port)
    }
}

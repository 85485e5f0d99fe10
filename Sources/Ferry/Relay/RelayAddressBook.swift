import FerryCrypto
import FerryTransport

/// Gives every (relay, peer) pair a stand-in address the transport can key a path by.
///
/// The transport identifies paths by remote address (RFC 9000 §9). A relayed path has no address of its own, so
/// the runtime names it with an IPv6 address from a prefix no network routes (`fd66:6572:7279::/48`, a unique
/// local prefix, RFC 4193, spelling "ferry"): the datagrams the transport writes to such an address are wrapped
/// and handed to that relay's connection, and the packets a relay delivers from a peer are handed to the
/// transport as coming from it. The address never leaves this process. iroh's magicsock does the same with its
/// relay-mapped addresses.
///
/// Bounded: at most `capacity` pairs. A pair first seen from the network (a packet some peer sent through a
/// relay) replaces the least recently used one when the book is full, so a flood of ids cannot grow it.
struct RelayAddressBook {
    /// The relay a path goes through and the peer behind it.
    struct Route: Hashable {
        var relay: EndpointID
        var peer: EndpointID
    }

    /// `fd66:6572:7279`: the first 6 bytes of every stand-in address.
    static let prefix: [UInt8] = [0xfd, 0x66, 0x65, 0x72, 0x72, 0x79]
    /// The port of every stand-in address (unused; the low 10 bytes tell pairs apart).
    static let port: UInt16 = 1

    let capacity: Int
    private var routesByAddress: [NetworkAddress: Route] = [:]
    private var addressesByRoute: [Route: NetworkAddress] = [:]
    private var lastUse: [NetworkAddress: UInt64] = [:]
    private var clock: UInt64 = 0
    private var nextSerial: UInt64 = 1

    init(capacity: Int = 16_384) {
        self.capacity = max(1, capacity)
    }

    /// Whether `address` is a stand-in for a relayed path (of this or any book).
    static func isRelayed(_ address: NetworkAddress) -> Bool {
        address.ipBytes.count == 16 && address.ipBytes.starts(with: prefix)
    }

    /// The pair behind a stand-in address, if it is known.
    func route(for address: NetworkAddress) -> Route? {
        routesByAddress[address]
    }

    /// The stand-in address of an existing pair.
    func existingAddress(for route: Route) -> NetworkAddress? {
        addressesByRoute[route]
    }

    /// The stand-in address for `route`, made on first use (nil only if `NetworkAddress` rejected 16 bytes).
    mutating func address(for route: Route) -> NetworkAddress? {
        clock &+= 1
        if let address = addressesByRoute[route] {
            lastUse[address] = clock
            return address
        }
        if routesByAddress.count >= capacity, let oldest = lastUse.min(by: { $0.value < $1.value })?.key {
            if let old = routesByAddress.removeValue(forKey: oldest) { addressesByRoute.removeValue(forKey: old) }
            lastUse.removeValue(forKey: oldest)
        }
        var bytes = Self.prefix
        bytes.append(0)
        bytes.append(0)
        let serial = nextSerial
        nextSerial &+= 1
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: serial >> UInt64(shift))) }
        guard let address = NetworkAddress(ipBytes: bytes, port: Self.port) else { return nil }
        routesByAddress[address] = route
        addressesByRoute[route] = address
        lastUse[address] = clock
        return address
    }

    /// Forgets every pair through `relay` (its connection is gone for good).
    mutating func removeAll(through relay: EndpointID) {
        for (route, address) in addressesByRoute where route.relay == relay {
            addressesByRoute.removeValue(forKey: route)
            routesByAddress.removeValue(forKey: address)
            lastUse.removeValue(forKey: address)
        }
    }

    var count: Int { routesByAddress.count }
}

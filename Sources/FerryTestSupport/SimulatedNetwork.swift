import FerryTransport

/// Link behaviour for a `SimulatedNetwork`, applied independently to every datagram in each direction.
public struct LinkConditions: Sendable {
    /// Base one-way delay.
    public var oneWayDelay: Duration = .milliseconds(10)
    /// Probability a datagram is lost.
    public var lossRate: Double = 0
    /// Probability a datagram is held back by `reorderDelay` extra, so later ones overtake it.
    public var reorderRate: Double = 0
    /// Extra delay of reordered datagrams.
    public var reorderDelay: Duration = .milliseconds(5)
    /// Probability a datagram is delivered twice.
    public var duplicateRate: Double = 0
    /// Probability one byte of a datagram is flipped.
    public var corruptRate: Double = 0
    /// Datagrams larger than this are dropped (a path MTU for the UDP payload).
    public var mtu: Int = 1500
    /// Link rate in bytes per second; 0 = unlimited. Datagrams queue behind each other at this rate.
    public var bandwidth: UInt64 = 0
    /// Drop-tail limit of the bottleneck queue in bytes (only with a `bandwidth`); 0 = unlimited.
    ///
    /// A finite queue makes a lossless link behave like a real bottleneck: a sender that overshoots loses
    /// packets instead of growing the round-trip time without bound.
    public var queueLimit: Int = 0

    public init(
        oneWayDelay: Duration = .milliseconds(10), lossRate: Double = 0, reorderRate: Double = 0,
        reorderDelay: Duration = .milliseconds(5), duplicateRate: Double = 0, corruptRate: Double = 0,
        mtu: Int = 1500, bandwidth: UInt64 = 0, queueLimit: Int = 0
    ) {
        self.oneWayDelay = oneWayDelay
        self.lossRate = lossRate
        self.reorderRate = reorderRate
        self.reorderDelay = reorderDelay
        self.duplicateRate = duplicateRate
        self.corruptRate = corruptRate
        self.mtu = mtu
        self.bandwidth = bandwidth
        self.queueLimit = queueLimit
    }
}

/// A deterministic in-memory network joining two `TransportEndpoint`s, with a virtual clock (after quinn-proto's
/// test `Pair`).
///
/// Each `step()` drains both endpoints' output, applies the link conditions with a seeded RNG, then advances
/// the virtual clock to the next delivery or timer. Tests drive it with `run(until:)` and observe events through
/// `onEvent` or the recorded `events` lists. The same seed gives the same run, so failures reproduce.
public final class SimulatedNetwork {
    /// Which endpoint.
    public enum Role: Sendable, Hashable { case client, server }

    /// The virtual clock.
    public private(set) var now: Instant
    public let client: TransportEndpoint
    public let server: TransportEndpoint
    /// The client's address as the server sees it; `rebindClient(to:)` changes it (a NAT rebinding).
    public private(set) var clientAddress: NetworkAddress
    public let serverAddress: NetworkAddress
    /// Conditions for client → server datagrams.
    public var clientToServer: LinkConditions
    /// Conditions for server → client datagrams.
    public var serverToClient: LinkConditions
    /// Every event, in order, as (endpoint, connection, event).
    public private(set) var events: [(Role, ConnectionHandle, ConnectionEvent)] = []
    /// Called for each event as it is polled, before it is recorded; tests react here (read streams, reply).
    public var onEvent: ((Role, ConnectionHandle, ConnectionEvent) -> Void)?
    /// Datagrams sent by each side (after the endpoint, before the link).
    public private(set) var datagramsSent: [Role: Int] = [.client: 0, .server: 0]
    /// Sizes of every datagram sent by each side, for padding/amplification checks.
    public private(set) var sentSizes: [Role: [Int]] = [.client: [], .server: []]
    /// Bytes delivered to each side.
    public private(set) var bytesDelivered: [Role: Int] = [.client: 0, .server: 0]
    /// Datagrams per `pollTransmit` batch (GSO); 1 disables batching.
    public var maxSegments = 8
    /// Optional inspection of every datagram as it leaves an endpoint.
    public var onDatagram: ((Role, [UInt8]) -> Void)?
    /// Optional drop rule, asked for every datagram as it leaves `Role` at the given time: true drops it.
    public var dropRule: ((Role, [UInt8], Instant) -> Bool)?
    /// Datagrams each side sent that the network dropped on purpose (loss, blackholes, drop rules, full
    /// queues, MTU, unreachable addresses), so scenarios can prove their impairment really happened.
    public private(set) var datagramsDropped: [Role: Int] = [.client: 0, .server: 0]
    /// Datagrams each side sent that the network corrupted (one byte flipped).
    public private(set) var datagramsCorrupted: [Role: Int] = [.client: 0, .server: 0]
    /// Datagrams each side sent that the network duplicated.
    public private(set) var datagramsDuplicated: [Role: Int] = [.client: 0, .server: 0]
    /// Datagrams each side sent that the network held back so later ones overtook them.
    public private(set) var datagramsReordered: [Role: Int] = [.client: 0, .server: 0]
    /// Periods in which every datagram sent in the given direction (nil = both) is lost.
    public private(set) var blackholes: [(start: Instant, end: Instant, from: Role?)] = []
    /// Addresses nobody answers at any more (the client's old addresses after a rebinding).
    public private(set) var unreachableAddresses: Set<NetworkAddress> = []

    fileprivate struct InFlight {
        var deliveryTime: Instant
        var sequence: UInt64
        var to: Role
        var from: NetworkAddress
        var bytes: [UInt8]
    }

    private var inFlight = DeliveryQueue()
    private var sequence: UInt64 = 0
    private var random: SeededRandom
    private let buffer: UnsafeMutableRawBufferPointer
    private var linkFreeAt: [Role: Instant] = [.client: .zero, .server: .zero]

    /// Creates a network between a client endpoint and a server endpoint.
    public init(
        clientConfig: EndpointConfig,
        serverConfig: EndpointConfig,
        conditions: LinkConditions = LinkConditions(),
        seed: UInt64 = 1,
        start: Instant = Instant(nanoseconds: 1_000_000_000)
    ) {
        var clientConfig = clientConfig
        clientConfig.acceptsIncoming = false
        if clientConfig.randomSeed == nil { clientConfig.randomSeed = seed &+ 100 }
        var serverConfig = serverConfig
        if serverConfig.randomSeed == nil { serverConfig.randomSeed = seed &+ 200 }
        client = TransportEndpoint(config: clientConfig)
        server = TransportEndpoint(config: serverConfig)
        clientAddress = NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433) ?? Self.unreachable()
        serverAddress = NetworkAddress(ipBytes: [10, 0, 0, 2], port: 443) ?? Self.unreachable()
        clientToServer = conditions
        serverToClient = conditions
        random = SeededRandom(seed: seed)
        now = start
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    private static func unreachable() -> NetworkAddress {
        preconditionFailure("static addresses are valid")
    }

    /// Convenience: a pair using `TestCryptoProvider` on both sides.
    public convenience init(
        transport: TransportConfig = TransportConfig(),
        serverTransport: TransportConfig? = nil,
        conditions: LinkConditions = LinkConditions(),
        seed: UInt64 = 1
    ) {
        let clientCrypto = TestCryptoProvider(identitySeed: 1)
        let serverCrypto = TestCryptoProvider(identitySeed: 2)
        self.init(
            clientConfig: EndpointConfig(transport: transport, crypto: clientCrypto),
            serverConfig: EndpointConfig(transport: serverTransport ?? transport, crypto: serverCrypto),
            conditions: conditions, seed: seed)
    }

    /// The identity the convenience initialiser gives the server.
    public static var testServerIdentity: EndpointID { TestCryptoProvider.makeIdentity(seed: 2) }
    /// The identity the convenience initialiser gives the client.
    public static var testClientIdentity: EndpointID { TestCryptoProvider.makeIdentity(seed: 1) }

    /// Starts a client connection to the server.
    public func connect(
        expectedPeer: EndpointID = SimulatedNetwork.testServerIdentity,
        alpns: [[UInt8]] = [Array("test".utf8)]
    ) throws(TransportError) -> ConnectionHandle {
        try client.connect(to: serverAddress, expectedPeer: expectedPeer, alpns: alpns, now: now)
    }

    /// Injects a raw datagram as if `from` had sent it to the other side, after the link delay.
    public func inject(_ bytes: [UInt8], to role: Role, delay: Duration = .zero) {
        sequence += 1
        let from = role == .client ? serverAddress : clientAddress
        inFlight.insert(InFlight(deliveryTime: now + delay, sequence: sequence, to: role, from: from, bytes: bytes))
    }

    private func endpoint(_ role: Role) -> TransportEndpoint { role == .client ? client : server }

    /// Drains output from both endpoints onto the links.
    private func collectTransmits() {
        for role in [Role.client, Role.server] {
            let endpoint = endpoint(role)
            var guardCount = 0
            while let transmit = endpoint.pollTransmit(now: now, into: buffer, maxSegments: maxSegments),
                guardCount < 100_000
            {
                guardCount += 1
                // Split GSO batches into their datagrams, as the kernel would.
                let segmentSize = transmit.segmentSize ?? transmit.size
                var offset = 0
                while offset < transmit.size {
                    let end = min(offset + segmentSize, transmit.size)
                    let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[offset..<end]))
                    datagramsSent[role, default: 0] += 1
                    sentSizes[role, default: []].append(bytes.count)
                    onDatagram?(role, bytes)
                    if role == .server && unreachableAddresses.contains(transmit.destination) {
                        datagramsDropped[role, default: 0] += 1
                    } else {
                        send(bytes, from: role)
                    }
                    offset = end
                }
            }
        }
    }

    private func send(_ bytes: [UInt8], from role: Role) {
        let conditions = role == .client ? clientToServer : serverToClient
        let destination: Role = role == .client ? .server : .client
        let source = role == .client ? clientAddress : serverAddress
        guard bytes.count <= conditions.mtu, !isDroppedOnPurpose(bytes, from: role) else {
            datagramsDropped[role, default: 0] += 1
            return
        }
        var departure = now
        if conditions.bandwidth > 0 {
            let start = max(now, linkFreeAt[role] ?? now)
            if conditions.queueLimit > 0 {
                let backlog = (start.nanoseconds - now.nanoseconds) * conditions.bandwidth / 1_000_000_000
                if backlog + UInt64(bytes.count) > UInt64(conditions.queueLimit) {
                    datagramsDropped[role, default: 0] += 1
                    return
                }
            }
            let transmission = Duration.nanoseconds(UInt64(bytes.count) * 1_000_000_000 / conditions.bandwidth)
            departure = start + transmission
            linkFreeAt[role] = departure
        }
        if random.chance(conditions.lossRate) {
            datagramsDropped[role, default: 0] += 1
            return
        }
        var copies = 1
        if random.chance(conditions.duplicateRate) {
            copies = 2
            datagramsDuplicated[role, default: 0] += 1
        }
        for _ in 0..<copies {
            var payload = bytes
            if random.chance(conditions.corruptRate), !payload.isEmpty {
                let index = Int(random.next() % UInt64(payload.count))
                payload[index] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                datagramsCorrupted[role, default: 0] += 1
            }
            var delivery = departure + conditions.oneWayDelay
            if random.chance(conditions.reorderRate) {
                delivery = delivery + conditions.reorderDelay
                datagramsReordered[role, default: 0] += 1
            }
            sequence += 1
            inFlight.insert(
                InFlight(deliveryTime: delivery, sequence: sequence, to: destination, from: source, bytes: payload))
        }
    }

    /// Blackholes and the drop rule, checked as a datagram leaves `role`.
    private func isDroppedOnPurpose(_ bytes: [UInt8], from role: Role) -> Bool {
        for hole in blackholes where hole.start <= now && now < hole.end && (hole.from ?? role) == role {
            return true
        }
        return dropRule?(role, bytes, now) ?? false
    }

    private func collectEvents() {
        for role in [Role.client, Role.server] {
            let endpoint = endpoint(role)
            while let (handle, event) = endpoint.pollEvent() {
                onEvent?(role, handle, event)
                events.append((role, handle, event))
            }
        }
    }

    /// Runs one round: output, then advance to the next delivery or timer. Returns false when nothing is left.
    @discardableResult
    public func step(notAfter limit: Instant? = nil) -> Bool {
        collectEvents()
        collectTransmits()
        collectEvents()
        var next = inFlight.first?.deliveryTime
        for endpoint in [client, server] {
            if let timeout = endpoint.nextTimeout(), next.map({ timeout < $0 }) ?? true { next = timeout }
        }
        guard let next else { return false }
        if let limit, next > limit {
            now = max(now, limit)
            return false
        }
        if next > now { now = next }
        // Deliver everything due, in delivery order.
        while var packet = inFlight.first, packet.deliveryTime <= now {
            inFlight.removeFirst()
            bytesDelivered[packet.to, default: 0] += packet.bytes.count
            // The queue let go of the packet: its bytes are handed over unshared, as the runtime's receive
            // scratch is, so decryption in place does not copy them first.
            endpoint(packet.to).handle(datagram: &packet.bytes, from: packet.from, now: now)
        }
        for endpoint in [client, server] {
            if let timeout = endpoint.nextTimeout(), timeout <= now { endpoint.handleTimeout(now: now) }
        }
        collectEvents()
        return true
    }

    /// Steps until `predicate` holds (returns true) or virtual time passes `timeLimit` (returns false).
    @discardableResult
    public func run(until predicate: () -> Bool, timeLimit: Duration = .seconds(60)) -> Bool {
        let deadline = now + timeLimit
        var stalledSteps = 0
        while !predicate() {
            let before = now
            guard now <= deadline, step(notAfter: deadline) else { return predicate() }
            stalledSteps = now == before ? stalledSteps + 1 : 0
            if stalledSteps > 10_000 {
                isLivelocked = true
                return false
            }
        }
        return true
    }

    /// Set when `run` gave up because the clock stopped advancing (an endpoint kept asking for a timeout in
    /// the past or kept sending): a bug in the transport.
    public private(set) var isLivelocked = false

    /// Steps until nothing is in flight and no timer is due before `timeLimit` passes.
    public func runUntilIdle(timeLimit: Duration = .seconds(60)) {
        _ = run(until: { false }, timeLimit: timeLimit)
    }

    /// Loses every datagram sent from `start` for `duration`, in one direction (`from` that side) or both.
    ///
    /// Models an outage (a blackhole) in the middle of a transfer: the transport must survive it through PTO
    /// backoff and resume (RFC 9002 §6.2).
    public func addBlackhole(from start: Instant, for duration: Duration, from side: Role? = nil) {
        blackholes.append((start: start, end: start + duration, from: side))
    }

    /// Loses every datagram that starts with a long-header packet (Initial, 0-RTT, Handshake, Retry) sent
    /// before `deadline`, in both directions (RFC 9002 §6.2.2 handshake loss).
    public func dropLongHeaderPackets(until deadline: Instant) {
        let previous = dropRule
        dropRule = { role, bytes, now in
            if now < deadline, let first = bytes.first, first & 0x80 != 0 { return true }
            return previous?(role, bytes, now) ?? false
        }
    }

    /// Moves the client to `newAddress`, as a NAT rebinding does: datagrams the client sends from now on
    /// arrive from the new address, and datagrams sent to the old one are lost (RFC 9000 §9.3).
    public func rebindClient(to newAddress: NetworkAddress) {
        guard newAddress != clientAddress else { return }
        unreachableAddresses.insert(clientAddress)
        unreachableAddresses.remove(newAddress)
        clientAddress = newAddress
    }

    /// Events of one role, without handles.
    public func events(of role: Role) -> [ConnectionEvent] {
        events.filter { $0.0 == role }.map(\.2)
    }

    /// The first connection the server accepted, if any.
    public var serverConnection: TransportConnection? {
        for (role, handle, event) in events where role == .server && event == .handshakeCompleted {
            return server.connection(handle)
        }
        return nil
    }

    /// Handle of the first server connection that produced any event.
    public var serverHandle: ConnectionHandle? {
        events.first { $0.0 == .server }?.1
    }
}

/// A small seeded generator (SplitMix64) so network behaviour is reproducible.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool {
        guard probability > 0 else { return false }
        return Double(next() >> 11) / Double(1 << 53) < probability
    }
}

extension SimulatedNetwork {
    /// Datagrams on the links, ordered by (delivery time, send order): a binary min-heap.
    fileprivate struct DeliveryQueue {
        private var heap: [InFlight] = []

        var first: InFlight? { heap.first }

        private static func isBefore(_ lhs: InFlight, _ rhs: InFlight) -> Bool {
            (lhs.deliveryTime, lhs.sequence) < (rhs.deliveryTime, rhs.sequence)
        }

        mutating func insert(_ item: InFlight) {
            heap.append(item)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.isBefore(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        mutating func removeFirst() {
            guard !heap.isEmpty else { return }
            let last = heap.removeLast()
            guard !heap.isEmpty else { return }
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && Self.isBefore(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count && Self.isBefore(heap[right], heap[smallest]) { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }
}

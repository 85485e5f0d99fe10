import FerryTestSupport
import FerryTransport

// The world one fuzz input runs in: a server endpoint and a client endpoint with TestCryptoProvider, a virtual
// clock, and the fuzzer playing the peer of both. Everything is seeded, so an input replays identically.

/// Which endpoint a record addresses.
enum FuzzRole: Int {
    case server = 0
    case client = 1
}

/// How the world starts before the first record.
enum FuzzSetup {
    /// A fresh server, and a client that has called `connect` and sent its Initial to a server that does not
    /// exist: the fuzzer answers in its place (RFC 9000 §7, the handshake).
    case handshake
    /// A client and a server that completed and confirmed a handshake with each other in memory (as
    /// SimulatedNetwork does); afterwards the fuzzer speaks for either side in 1-RTT packets (RFC 9000 §17.3).
    case established
}

/// Options taken from the first input byte, so the fuzzer explores configurations as well as packets.
struct FuzzOptions {
    var holdsIncoming: Bool
    var requiresRetry: Bool
    var smallWindows: Bool
    var frequentKeyUpdates: Bool
    var disablesNATTraversal: Bool
    var disablesECNAndMTUDiscovery: Bool
    var longConnectionIDs: Bool
    var disablesDatagrams: Bool

    init(_ byte: UInt8) {
        holdsIncoming = byte & 0x01 != 0
        requiresRetry = byte & 0x02 != 0
        smallWindows = byte & 0x04 != 0
        frequentKeyUpdates = byte & 0x08 != 0
        disablesNATTraversal = byte & 0x10 != 0
        disablesECNAndMTUDiscovery = byte & 0x20 != 0
        longConnectionIDs = byte & 0x40 != 0
        disablesDatagrams = byte & 0x80 != 0
    }

    /// The transport limits both endpoints use. Small windows make flow control and stream limits reachable
    /// within a few records (RFC 9000 §4).
    var transport: TransportConfig {
        var config = TransportConfig()
        if smallWindows {
            config.initialMaxData = 4096
            config.initialMaxStreamData = 1024
            config.maxConnectionWindow = 8192
            config.maxStreamWindow = 2048
            config.maxConcurrentBidirectionalStreams = 4
            config.maxConcurrentUnidirectionalStreams = 2
            config.streamSendBufferLimit = 4096
            config.datagramReceiveQueueLimit = 4
            config.datagramSendQueueLimit = 4
        }
        if frequentKeyUpdates { config.keyUpdateInterval = 8 }
        if disablesNATTraversal { config.natTraversal.isEnabled = false }
        if disablesECNAndMTUDiscovery {
            config.isECNEnabled = false
            config.isMTUDiscoveryEnabled = false
        }
        if disablesDatagrams { config.maxDatagramFrameSize = nil }
        return config
    }
}

final class FuzzWorld {
    /// One reusable transmit buffer (`pollTransmit` needs at least 65,535 bytes).
    nonisolated(unsafe) static let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)

    static let serverAddress = makeAddress([10, 0, 0, 2], 443)
    static let clientAddress = makeAddress([10, 0, 0, 1], 4433)
    /// Where the client appears after a NAT rebinding or an attacker's spoofed source (RFC 9000 §9).
    static let otherClientAddress = makeAddress([10, 0, 0, 9], 5555)
    /// An address the client has never talked to: it must drop what comes from there (RFC 9000 §9).
    static let strayAddress = makeAddress([192, 0, 2, 7], 443)

    /// The connection IDs the fuzzer uses when it plays a client towards the server.
    static let fuzzClientOriginalDestination = makeConnectionID(0x0D)
    static let fuzzClientConnectionID = makeConnectionID(0xC1)
    /// The connection ID the fuzzer uses when it plays the server towards the client.
    static let fuzzServerConnectionID = makeConnectionID(0x5E)

    /// Records per input beyond this are ignored, which bounds the work one input can ask for.
    static let maxRecords = 512

    let setup: FuzzSetup
    let options: FuzzOptions
    var now = Instant(nanoseconds: 1_000_000_000)
    let server: TransportEndpoint
    let client: TransportEndpoint
    let serverKeys = KeyRing()
    let clientKeys = KeyRing()
    let crypto = TestCryptoProvider(identitySeed: 1, randomSeed: 0xF022)

    /// The connection the application commands of each role act on.
    var handles: [ConnectionHandle?] = [nil, nil]
    /// Stream IDs each side opened or saw opened, for application commands (bounded).
    var knownStreams: [[StreamID]] = [[], []]
    /// Learned from the endpoints' output: the server's connection ID (from its long headers' Source CID), the
    /// client's own connection ID and its first Destination Connection ID (from its first Initial).
    var serverConnectionID: ConnectionID?
    var clientConnectionID: ConnectionID?
    var clientOriginalDestination: ConnectionID?
    /// A Retry the server sent to the fuzzer's client: its token and new connection ID (RFC 9000 §17.2.5).
    var retryToken: [UInt8] = []
    var retrySource: ConnectionID?
    /// The next packet number per role and packet number space (Initial, Handshake, 1-RTT).
    var nextPacketNumber: [[UInt64]] = [[64, 64, 64], [64, 64, 64]]
    /// The 1-RTT key generation the fuzzer sends with to each role (RFC 9001 §6), and its derived protector.
    var keyGeneration: [Int] = [0, 0]
    var generationKeys: [(base: ObjectIdentifier, generation: Int, protector: any PacketProtector)?] = [nil, nil]
    /// Packets waiting to be sent together in one datagram (coalescing, RFC 9000 §12.2).
    var pending: (role: FuzzRole, bytes: [UInt8])?
    var recordIndex = 0

    init(setup: FuzzSetup, options: FuzzOptions) {
        self.setup = setup
        self.options = options
        let transport = options.transport
        let cidLength = options.longConnectionIDs ? 20 : 8
        server = TransportEndpoint(config: EndpointConfig(
            transport: transport,
            crypto: CapturingCryptoProvider(
                inner: TestCryptoProvider(identitySeed: 2, randomSeed: 0x5EED), ring: serverKeys),
            connectionIDLength: cidLength, acceptsIncoming: true, randomSeed: 200,
            statelessResetKey: [UInt8](repeating: 0x52, count: 32),
            addressValidation: AddressValidationConfig(
                requiresRetry: options.requiresRetry, tokenKey: [UInt8](repeating: 0x54, count: 32))))
        server.holdsIncoming = options.holdsIncoming
        client = TransportEndpoint(config: EndpointConfig(
            transport: transport,
            crypto: CapturingCryptoProvider(
                inner: TestCryptoProvider(identitySeed: 1, randomSeed: 0xC11E), ring: clientKeys),
            connectionIDLength: cidLength, acceptsIncoming: false, randomSeed: 100,
            statelessResetKey: [UInt8](repeating: 0x43, count: 32),
            addressValidation: AddressValidationConfig(tokenKey: [UInt8](repeating: 0x44, count: 32))))
    }

    /// Runs one fuzz input: the first byte picks options, the rest is a sequence of records
    /// `kind (1) | length (2, big-endian) | body`.
    static func run(_ input: [UInt8], setup: FuzzSetup) {
        guard let first = input.first else { return }
        let world = FuzzWorld(setup: setup, options: FuzzOptions(first))
        world.start()
        var offset = 1
        while offset < input.count, world.recordIndex < maxRecords {
            let kind = input[offset]
            let lengthEnd = min(offset + 3, input.count)
            var length = 0
            for index in (offset + 1)..<lengthEnd { length = length << 8 | Int(input[index]) }
            let bodyEnd = min(lengthEnd + length, input.count)
            world.handleRecord(kind: kind, body: input[lengthEnd..<bodyEnd])
            offset = bodyEnd
        }
        world.flushPending()
        world.pump()
        // Let every timer run out, so idle timeouts, draining and connection removal run too (RFC 9000 §10).
        for _ in 0..<16 {
            guard let deadline = world.nextDeadline() else { break }
            world.now = max(world.now, deadline)
            world.pump()
        }
    }

    // MARK: Setup

    func start() {
        do {
            handles[FuzzRole.client.rawValue] = try client.connect(
                to: Self.serverAddress, expectedPeer: PeerScript.serverIdentity, alpns: [PeerScript.alpn], now: now)
        } catch {
            fatalError("connect failed before any fuzz input: \(error)")
        }
        switch setup {
        case .handshake:
            pump()
        case .established:
            establish()
        }
    }

    /// Runs the real handshake between the two endpoints with every datagram delivered 1 ms later, until the
    /// client's handshake is confirmed (RFC 9001 §4.1.2) and nothing more is sent.
    private func establish() {
        var inFlight: [(to: FuzzRole, bytes: [UInt8])] = []
        for _ in 0..<200 {
            inFlight.removeAll(keepingCapacity: true)
            for role in [FuzzRole.server, .client] {
                let endpoint = self.endpoint(role)
                if let deadline = endpoint.nextTimeout(), deadline <= now { endpoint.handleTimeout(now: now) }
                while let transmit = endpoint.pollTransmit(now: now, into: Self.buffer) {
                    let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: Self.buffer[0..<transmit.size]))
                    observe(role, bytes)
                    inFlight.append((role == .server ? .client : .server, bytes))
                }
                drainEvents(role)
            }
            let confirmed = handles[FuzzRole.client.rawValue].flatMap { client.connection($0) }?
                .isHandshakeConfirmed ?? false
            if inFlight.isEmpty && confirmed { return }
            now = now + .milliseconds(1)
            for (role, bytes) in inFlight {
                let source = role == .server ? Self.clientAddress : Self.serverAddress
                endpoint(role).handle(datagram: bytes, from: source, now: now)
            }
        }
    }

    // MARK: Driving the endpoints

    func endpoint(_ role: FuzzRole) -> TransportEndpoint { role == .server ? server : client }

    func nextDeadline() -> Instant? {
        switch (server.nextTimeout(), client.nextTimeout()) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b?): b
        case (nil, nil): nil
        }
    }

    /// Fires due timers, drains every datagram and event, and lets the application react, until both endpoints
    /// are quiet at the current instant. Output is observed and dropped: the fuzzer is the only peer.
    ///
    /// An endpoint that never goes quiet without time passing is a livelock, reported as a crash.
    func pump() {
        var rounds = 0
        while true {
            rounds += 1
            if rounds > 1_000 {
                // Traced runs return instead, so what the endpoints printed is not lost.
                if fuzzTrace { trace("livelock at \(now)"); return }
                fatalError("endpoints still busy after 1000 rounds at \(now): livelock")
            }
            var active = false
            for role in [FuzzRole.server, .client] {
                let endpoint = self.endpoint(role)
                if let deadline = endpoint.nextTimeout(), deadline <= now {
                    endpoint.handleTimeout(now: now)
                    active = true
                }
                var sent = 0
                while let transmit = endpoint.pollTransmit(now: now, into: Self.buffer, maxSegments: 4) {
                    sent += 1
                    if sent > 10_000 { fatalError("pollTransmit did not run dry at \(now)") }
                    if Self.buffer[0] & 0x80 != 0 {
                        let size = transmit.segmentSize ?? transmit.size
                        observe(role, [UInt8](UnsafeRawBufferPointer(rebasing: Self.buffer[0..<size])))
                    }
                    active = true
                }
                if role == .server { decideIncoming() }
                if drainEvents(role) { active = true }
                if fuzzTrace && rounds > 990 {
                    trace("round \(rounds) \(role): sent \(sent), next timeout \(String(describing: endpoint.nextTimeout())), now \(now)")
                }
            }
            if !active { return }
        }
    }

    /// Learns connection IDs and Retry tokens from what an endpoint sends, so forged packets can address it.
    func observe(_ role: FuzzRole, _ bytes: [UInt8]) {
        guard let first = bytes.first, first & 0x80 != 0,
            let header = try? PacketHeader.parse(bytes, at: 0, shortHeaderConnectionIDLength: 0)
        else { return }
        switch role {
        case .server:
            if header.type == .retry {
                guard header.destinationConnectionID == Self.fuzzClientConnectionID else { return }
                retryToken = Array(header.retryToken)
                retrySource = header.sourceConnectionID
            } else if header.type != .versionNegotiation {
                serverConnectionID = header.sourceConnectionID
            }
        case .client:
            guard header.type == .initial else { return }
            clientConnectionID = header.sourceConnectionID
            if clientOriginalDestination == nil { clientOriginalDestination = header.destinationConnectionID }
        }
    }

    /// With `holdsIncoming`, decides held connection attempts the way an incoming filter would: accept, Retry,
    /// refuse or ignore, varied by the attempt's id.
    private func decideIncoming() {
        while let attempt = server.pollIncoming() {
            switch attempt.id % 4 {
            case 1: _ = server.acceptIncoming(attempt.id, now: now)
            case 2: _ = server.retryIncoming(attempt.id, now: now)
            case 3: server.refuseIncoming(attempt.id, reason: "fuzz", now: now)
            default: server.ignoreIncoming(attempt.id)
            }
        }
    }

    /// Drains an endpoint's events the way the runtime does: reads readable streams, takes datagrams and path
    /// events, remembers streams and connections. Returns whether there was any event.
    @discardableResult
    func drainEvents(_ role: FuzzRole) -> Bool {
        let endpoint = self.endpoint(role)
        var count = 0
        while let (handle, event) = endpoint.pollEvent() {
            count += 1
            if fuzzTrace { trace("  \(role) \(handle): \(event)") }
            if count > 100_000 { fatalError("pollEvent did not run dry") }
            if role == .server, event.isOpenConnectionEvent { handles[role.rawValue] = handle }
            guard let connection = endpoint.connection(handle) else { continue }
            switch event {
            case .streamOpened(let stream):
                remember(stream, for: role)
            case .streamReadable(let stream):
                readAll(stream, on: connection)
            case .datagramReceived:
                var datagrams = 0
                while connection.receiveDatagram() != nil, datagrams < 10_000 { datagrams += 1 }
            case .pathsChanged:
                var events = 0
                while connection.pollPathEvent() != nil, events < 10_000 { events += 1 }
            default:
                break
            }
        }
        return count > 0
    }

    func remember(_ stream: StreamID, for role: FuzzRole) {
        guard knownStreams[role.rawValue].count < 32, !knownStreams[role.rawValue].contains(stream) else { return }
        knownStreams[role.rawValue].append(stream)
    }

    private func readAll(_ stream: StreamID, on connection: TransportConnection) {
        for _ in 0..<64 {
            guard case .data = try? connection.read(stream, maxLength: 65_536) else { return }
        }
    }

    static func makeAddress(_ ip: [UInt8], _ port: UInt16) -> NetworkAddress {
        guard let address = NetworkAddress(ipBytes: ip, port: port) else { preconditionFailure("valid address") }
        return address
    }

    static func makeConnectionID(_ byte: UInt8) -> ConnectionID {
        guard let id = ConnectionID([UInt8](repeating: byte, count: 8)) else { preconditionFailure("valid ID") }
        return id
    }
}

extension ConnectionEvent {
    /// Whether the event leaves the connection usable for application commands.
    var isOpenConnectionEvent: Bool {
        if case .closed = self { return false }
        return true
    }
}

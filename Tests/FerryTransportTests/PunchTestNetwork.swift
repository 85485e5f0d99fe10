import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Two endpoints joined by a relay and, when it works, a direct route, for NAT traversal tests
/// (draft-seemann-quic-nat-traversal-02 §4).
///
/// The client dials the server's relay stand-in address (`fd66:6572:7279::/48`, as the runtime's relay client
/// does); the server sees the client at another stand-in. Direct datagrams go between the sockets, through a
/// NAT model on each side: a datagram from the outside reaches an endpoint only from an address it sent to
/// before (address-dependent filtering, RFC 4787 §5), and the client's NAT may map its socket to another public
/// address. Fixed delays, no loss except what a test switches on.
final class PunchTestNetwork {
    let client: TransportEndpoint
    let server: TransportEndpoint
    let clientSocket = NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433)!
    let serverSocket = NetworkAddress(ipBytes: [10, 0, 0, 2], port: 443)!
    /// What the client dials (the server through the relay) and what the server sees the client as.
    let serverViaRelay = NetworkAddress(ipBytes: [0xfd, 0x66, 0x65, 0x72, 0x72, 0x79] + [UInt8](repeating: 0, count: 9) + [1], port: 1)!
    let clientViaRelay = NetworkAddress(ipBytes: [0xfd, 0x66, 0x65, 0x72, 0x72, 0x79] + [UInt8](repeating: 0, count: 9) + [2], port: 1)!
    /// The address the server sees the client's direct datagrams from (its NAT mapping); identity by default.
    var clientPublic: NetworkAddress
    /// Direct datagrams are lost both ways (no route, or the direct path went dark).
    var isDirectBlocked = false
    /// Whether the server's side filters like a NAT; false models a server with a public address.
    var serverFilters = true
    var relayDelay = Duration.milliseconds(30)
    var directDelay = Duration.milliseconds(10)
    /// Further direct routes besides client socket ↔ `serverSocket`: the server reachable at `server` as well (an
    /// IPv6 address, say), seeing the client's datagrams on that route from `client`, with its own one-way delay.
    /// The same NAT model applies.
    var extraRoutes: [(client: NetworkAddress, server: NetworkAddress, delay: Duration)] = []
    private(set) var now = Instant(nanoseconds: 1_000_000_000)
    /// Every frame each side sent, as recorded for recovery, in order.
    private(set) var clientFrames: [SentFrame] = []
    private(set) var serverFrames: [SentFrame] = []
    private(set) var clientEvents: [ConnectionEvent] = []
    private(set) var serverEvents: [ConnectionEvent] = []
    /// How each of the client's punching rounds ended, in order (`TransportPathEvent.punchRoundEnded`).
    private(set) var clientPunchResults: [PunchRoundResult] = []
    private(set) var serverReceived: [StreamID: [UInt8]] = [:]
    private(set) var serverFinished: Set<StreamID> = []
    /// Direct datagrams each side sent, by destination.
    private(set) var clientDirectSends: [NetworkAddress: Int] = [:]
    private(set) var serverDirectSends: [NetworkAddress: Int] = [:]
    /// When each side last sent to an address: its NAT's filtering state, forgotten after `mappingLifetime`.
    private var clientSentTo: [NetworkAddress: Instant] = [:]
    private var serverSentTo: [NetworkAddress: Instant] = [:]
    /// How long a NAT keeps a filtering entry without outbound traffic (Linux conntrack keeps a short-lived UDP
    /// flow 30 s).
    var mappingLifetime = Duration.seconds(30)
    private var pendingWrites: [(stream: StreamID, bytes: ArraySlice<UInt8>)] = []
    private(set) var clientHandle: ConnectionHandle?
    private(set) var serverHandle: ConnectionHandle?


    private var deliveries = DeliveryQueue()
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)

    init(transport: TransportConfig = TransportConfig(), serverTransport: TransportConfig? = nil) {
        clientPublic = clientSocket
        client = TransportEndpoint(config: EndpointConfig(
            transport: transport, crypto: TestCryptoProvider(identitySeed: 1), acceptsIncoming: false, randomSeed: 11))
        server = TransportEndpoint(config: EndpointConfig(
            transport: serverTransport ?? transport, crypto: TestCryptoProvider(identitySeed: 2), randomSeed: 22))
    }

    deinit { buffer.deallocate() }

    var clientConnection: TransportConnection? { clientHandle.flatMap { client.connection($0) } }
    var serverConnection: TransportConnection? { serverHandle.flatMap { server.connection($0) } }

    /// Connects through the relay and runs until both sides confirmed the handshake.
    func connect(file: StaticString = #filePath, line: UInt = #line) throws {
        let handle = try client.connect(
            to: serverViaRelay, expectedPeer: TestCryptoProvider.makeIdentity(seed: 2), alpns: [Array("test".utf8)],
            now: now)
        clientHandle = handle
        client.connection(handle)?.sentFramesObserver = { [unowned self] in clientFrames += $0 }
        run(for: .milliseconds(400)) { serverHandle != nil && (clientConnection?.isHandshakeConfirmed ?? false) }
        XCTAssertNotNil(serverHandle, "handshake", file: file, line: line)
        run(for: .milliseconds(200))
    }

    /// Queues `bytes` on a new client stream, finished at the end.
    func upload(_ bytes: [UInt8]) throws -> StreamID {
        let connection = try XCTUnwrap(clientConnection)
        let stream = try XCTUnwrap(connection.openStream(bidirectional: false))
        pendingWrites.append((stream, bytes[...]))
        pump()
        return stream
    }

    private func pump() {
        guard let connection = clientConnection else { return }
        for index in pendingWrites.indices {
            var remaining = pendingWrites[index].bytes
            while !remaining.isEmpty {
                let written = (try? remaining.withUnsafeBytes { try connection.write(pendingWrites[index].stream, $0) }) ?? 0
                if written == 0 { break }
                remaining = remaining.dropFirst(written)
            }
            if remaining.isEmpty && !pendingWrites[index].bytes.isEmpty { try? connection.finish(pendingWrites[index].stream) }
            pendingWrites[index].bytes = remaining
        }
        pendingWrites.removeAll { $0.bytes.isEmpty }
    }

    /// Runs until `predicate` holds or `limit` of virtual time passes; returns whether it held.
    @discardableResult
    func run(for limit: Duration = .seconds(30), until predicate: () -> Bool = { false }) -> Bool {
        let deadline = now + limit
        var spins = 0
        while !predicate() {
            spins += 1
            if spins > 200_000 { return false }
            flush()
            guard let next = deliveries.nextEvent(client: client, server: server), next <= deadline else {
                now = deadline
                return predicate()
            }
            now = max(now, next)
            deliveries.advance(to: now, client: client, server: server)
            collectEvents()
            pump()
        }
        return true
    }

    private func flush() {
        collectEvents()
        for isClient in [true, false] {
            let endpoint = isClient ? client : server
            var guardCount = 0
            while guardCount < 10_000, let transmit = endpoint.pollTransmit(now: now, into: buffer, maxSegments: 1) {
                guardCount += 1
                let bytes = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<transmit.size]))
                let destination = transmit.destination
                if isClient {
                    if destination == serverViaRelay {
                        deliver(bytes, toServer: true, from: clientViaRelay, delay: relayDelay)
                        continue
                    }
                    clientDirectSends[destination, default: 0] += 1
                    clientSentTo[destination] = now
                    if let route = extraRoutes.first(where: { $0.server == destination }) {
                        guard !isDirectBlocked, !serverFilters || isOpen(serverSentTo, route.client) else { continue }
                        deliver(bytes, toServer: true, from: route.client, delay: route.delay)
                        continue
                    }
                    // The server's NAT lets in only what answers its own recent outbound datagrams.
                    guard !isDirectBlocked, destination == serverSocket, !serverFilters || isOpen(serverSentTo, clientPublic)
                    else { continue }
                    deliver(bytes, toServer: true, from: clientPublic, delay: directDelay)
                } else {
                    if destination == clientViaRelay {
                        deliver(bytes, toServer: false, from: serverViaRelay, delay: relayDelay)
                        continue
                    }
                    serverDirectSends[destination, default: 0] += 1
                    serverSentTo[destination] = now
                    if let route = extraRoutes.first(where: { $0.client == destination }) {
                        guard !isDirectBlocked, isOpen(clientSentTo, route.server) else { continue }
                        deliver(bytes, toServer: false, from: route.server, delay: route.delay)
                        continue
                    }
                    guard !isDirectBlocked, destination == clientPublic, isOpen(clientSentTo, serverSocket) else { continue }
                    deliver(bytes, toServer: false, from: serverSocket, delay: directDelay)
                }
            }
        }
        collectEvents()
    }

    private func isOpen(_ sentTo: [NetworkAddress: Instant], _ address: NetworkAddress) -> Bool {
        sentTo[address].map { now - $0 < mappingLifetime } ?? false
    }

    private func deliver(_ bytes: [UInt8], toServer: Bool, from: NetworkAddress, delay: Duration) {
        deliveries.schedule(toServer: toServer, from: from, bytes: bytes, at: now + delay)
    }

    private func collectEvents() {
        while let (_, event) = client.pollEvent() {
            clientEvents.append(event)
            guard event == .pathsChanged, let connection = clientConnection else { continue }
            while let pathEvent = connection.pollPathEvent() {
                if case .punchRoundEnded(let result) = pathEvent { clientPunchResults.append(result) }
            }
        }
        while let (handle, event) = server.pollEvent() {
            if serverHandle == nil {
                serverHandle = handle
                server.connection(handle)?.sentFramesObserver = { [unowned self] in serverFrames += $0 }
            }
            serverEvents.append(event)
            guard let connection = server.connection(handle) else { continue }
            if case .streamReadable(let stream) = event {
                readLoop: while true {
                    switch try? connection.read(stream, maxLength: 1 << 20) {
                    case .data(let bytes): serverReceived[stream, default: []] += bytes
                    case .finished: serverFinished.insert(stream); break readLoop
                    default: break readLoop
                    }
                }
            }
        }
    }
}

extension SentFrame {
    /// Whether the frame names a local address of its sender (ADD_ADDRESS, PUNCH_ME_NOW).
    var revealsCandidate: Bool {
        switch self {
        case .addAddress, .punchMeNow: true
        default: false
        }
    }

    var isNATTraversalFrame: Bool {
        switch self {
        case .addAddress, .punchMeNow, .removeAddress: true
        default: false
        }
    }
}

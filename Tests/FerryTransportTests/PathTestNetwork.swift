import FerryTestSupport
import XCTest

@testable import FerryTransport

/// A two-endpoint virtual network that knows about local addresses, for path and migration tests (RFC 9000 §9).
///
/// Unlike `SimulatedNetwork` it honours `Transmit.source`, so a client can send from several local addresses;
/// a NAT table maps each client local address to the address the server sees, and any address can be cut off.
/// One fixed one-way delay, no loss: tests stay exact and take milliseconds.
final class PathTestNetwork {
    let client: TransportEndpoint
    let server: TransportEndpoint
    let serverAddress = NetworkAddress(ipBytes: [10, 0, 0, 2], port: 443)!
    /// The client socket's address (what `Transmit.source == nil` means).
    var clientSocket = NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433)!
    /// The client's local addresses (its socket and any it migrated to).
    var clientLocals: Set<NetworkAddress> = [NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433)!]
    /// Client local address → the address the server sees (a NAT); identity when absent.
    var nat: [NetworkAddress: NetworkAddress] = [:]
    /// Addresses (client local or as seen by the server) whose datagrams are lost both ways.
    var cutOff: Set<NetworkAddress> = []
    /// Addresses (as the server sees them) the server's datagrams never reach; the client's still arrive.
    var unreachableFromServer: Set<NetworkAddress> = []
    var oneWayDelay = Duration.milliseconds(10)
    private(set) var now = Instant(nanoseconds: 1_000_000_000)
    /// Bytes the server sent to each address, and the client sent from each local address.
    private(set) var serverBytesTo: [NetworkAddress: Int] = [:]
    private(set) var clientBytesFrom: [NetworkAddress: Int] = [:]
    /// Datagrams lost on the way: the client's by local address, the server's by destination.
    private(set) var clientDropsFrom: [NetworkAddress: Int] = [:]
    private(set) var serverDropsTo: [NetworkAddress: Int] = [:]
    private(set) var serverEvents: [(ConnectionHandle, ConnectionEvent)] = []
    private(set) var clientEvents: [(ConnectionHandle, ConnectionEvent)] = []
    /// Bytes the server read per stream, and streams it saw finished.
    private(set) var serverReceived: [StreamID: [UInt8]] = [:]
    private(set) var serverFinished: Set<StreamID> = []
    /// Client writes still queued (stream, remaining bytes).
    private var pendingWrites: [(handle: ConnectionHandle, stream: StreamID, bytes: ArraySlice<UInt8>)] = []


    private var deliveries = DeliveryQueue()
    /// Set when `run` gave up because virtual time stopped advancing (a transport bug).
    private(set) var isLivelocked = false
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)

    init(transport: TransportConfig = TransportConfig(), serverTransport: TransportConfig? = nil) {
        client = TransportEndpoint(config: EndpointConfig(
            transport: transport, crypto: TestCryptoProvider(identitySeed: 1), acceptsIncoming: false,
            randomSeed: 11))
        server = TransportEndpoint(config: EndpointConfig(
            transport: serverTransport ?? transport, crypto: TestCryptoProvider(identitySeed: 2), randomSeed: 22))
    }

    deinit { buffer.deallocate() }

    /// Connects and runs until both sides confirmed the handshake and exchanged connection IDs.
    func connect(file: StaticString = #filePath, line: UInt = #line) throws -> (ConnectionHandle, ConnectionHandle) {
        let handle = try client.connect(
            to: serverAddress, expectedPeer: TestCryptoProvider.makeIdentity(seed: 2), alpns: [Array("test".utf8)],
            now: now)
        run(for: .milliseconds(200))
        let serverHandle = try XCTUnwrap(
            serverEvents.first { $0.1 == .handshakeCompleted }?.0, "handshake", file: file, line: line)
        XCTAssertTrue(client.connection(handle)?.isHandshakeConfirmed ?? false, file: file, line: line)
        return (handle, serverHandle)
    }

    /// Queues `bytes` on a new client stream, finished at the end.
    func upload(_ bytes: [UInt8], on handle: ConnectionHandle) throws -> StreamID {
        let connection = try XCTUnwrap(client.connection(handle))
        let stream = try XCTUnwrap(connection.openStream(bidirectional: false))
        pendingWrites.append((handle, stream, bytes[...]))
        pump()
        return stream
    }

    private func pump() {
        for index in pendingWrites.indices {
            guard let connection = client.connection(pendingWrites[index].handle) else { continue }
            var remaining = pendingWrites[index].bytes
            while !remaining.isEmpty {
                let written = (try? remaining.withUnsafeBytes { try connection.write(pendingWrites[index].stream, $0) })
                    ?? 0
                if written == 0 { break }
                remaining = remaining.dropFirst(written)
            }
            if remaining.isEmpty && !pendingWrites[index].bytes.isEmpty {
                try? connection.finish(pendingWrites[index].stream)
            }
            pendingWrites[index].bytes = remaining
        }
        pendingWrites.removeAll { $0.bytes.isEmpty }
    }

    /// Runs the network until `predicate` holds or `limit` of virtual time passes; returns whether it held.
    @discardableResult
    func run(for limit: Duration = .seconds(30), until predicate: () -> Bool = { false }) -> Bool {
        let deadline = now + limit
        var stalled = 0
        var previous = now
        while !predicate() {
            stalled = now == previous ? stalled + 1 : 0
            previous = now
            if stalled > 10_000 {
                isLivelocked = true
                return false
            }
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
                if isClient {
                    let source = transmit.source ?? clientSocket
                    clientBytesFrom[source, default: 0] += bytes.count
                    let seen = nat[source] ?? source
                    guard !cutOff.contains(source), !cutOff.contains(seen) else {
                        clientDropsFrom[source, default: 0] += 1
                        continue
                    }
                    deliver(bytes, toServer: true, from: seen)
                } else {
                    serverBytesTo[transmit.destination, default: 0] += bytes.count
                    guard !cutOff.contains(transmit.destination), !unreachableFromServer.contains(transmit.destination)
                    else {
                        serverDropsTo[transmit.destination, default: 0] += 1
                        continue
                    }
                    // Back through the NAT: only a current mapping (or an unmapped local address) reaches the client.
                    let destination = transmit.destination
                    let local = nat.first { $0.value == destination }?.key
                        ?? (clientLocals.contains(destination) && nat[destination] == nil ? destination : nil)
                    guard let local, !cutOff.contains(local) else {
                        serverDropsTo[transmit.destination, default: 0] += 1
                        continue
                    }
                    deliver(bytes, toServer: false, from: serverAddress)
                }
            }
        }
        collectEvents()
    }

    private func deliver(_ bytes: [UInt8], toServer: Bool, from: NetworkAddress) {
        deliveries.schedule(toServer: toServer, from: from, bytes: bytes, at: now + oneWayDelay)
    }

    private func collectEvents() {
        while let (handle, event) = client.pollEvent() { clientEvents.append((handle, event)) }
        while let (handle, event) = server.pollEvent() {
            serverEvents.append((handle, event))
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

    /// A fresh ack-eliciting 1-RTT datagram (a PING) from `connection`, kept from the network, to replay from
    /// another address or to deliver by hand.
    func takePing(from connection: TransportConnection) -> [UInt8]? {
        connection.space(.application).probesOwed += 1
        guard let size = connection.pollTransmit(now: now, into: buffer) else { return nil }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
    }

    /// Drains and returns the path events of a server or client connection.
    func pathEvents(of endpoint: TransportEndpoint, _ handle: ConnectionHandle) -> [TransportPathEvent] {
        var events: [TransportPathEvent] = []
        while let event = endpoint.connection(handle)?.pollPathEvent() { events.append(event) }
        return events
    }
}

extension TransportPathEvent {
    /// A compact form for assertions: "opened 1", "selected 1", "closed 0".
    var summary: String {
        switch self {
        case .opened(let path): "opened \(path.id)"
        case .selected(let path): "selected \(path.id)"
        case .closed(let path): "closed \(path.id)"
        case .punchRoundEnded(let result): "punch round \(result.round) \(result.outcome)"
        }
    }
}

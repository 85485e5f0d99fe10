import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Two endpoints joined by a 10 ms link that carries each datagram's IP ECN codepoint, which `rewrite` may change
/// on the way (bleaching, CE marking), on a virtual clock. The shared `SimulatedNetwork` does not model ECN.
private final class ECNLink {
    let client: TransportEndpoint
    let server: TransportEndpoint
    let clientAddress: NetworkAddress
    let serverAddress: NetworkAddress
    private(set) var now = Instant(nanoseconds: 1_000_000_000)
    /// Rewrites the codepoint of the `index`-th datagram sent toward the server (`true`) or the client.
    var rewrite: (_ toServer: Bool, _ codepoint: UInt8, _ index: Int) -> UInt8 = { _, codepoint, _ in codepoint }
    /// Codepoints as sent by the client and by the server.
    private(set) var sentByClient: [UInt8] = []
    private(set) var sentByServer: [UInt8] = []
    var onEvent: ((_ isClient: Bool, ConnectionHandle, ConnectionEvent) -> Void)?
    private var queue: [(time: Instant, toServer: Bool, bytes: [UInt8], ecn: UInt8)] = []
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

    init(transport: TransportConfig = TransportConfig()) throws {
        clientAddress = try XCTUnwrap(NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433))
        serverAddress = try XCTUnwrap(NetworkAddress(ipBytes: [10, 0, 0, 2], port: 443))
        client = TransportEndpoint(config: EndpointConfig(
            transport: transport, crypto: TestCryptoProvider(identitySeed: 1), acceptsIncoming: false, randomSeed: 5))
        server = TransportEndpoint(config: EndpointConfig(
            transport: transport, crypto: TestCryptoProvider(identitySeed: 2), randomSeed: 6))
    }

    deinit { buffer.deallocate() }

    func connect() throws -> ConnectionHandle {
        try client.connect(
            to: serverAddress, expectedPeer: SimulatedNetwork.testServerIdentity, alpns: [Array("test".utf8)],
            now: now)
    }

    private func drainEvents() {
        while let (handle, event) = client.pollEvent() { onEvent?(true, handle, event) }
        while let (handle, event) = server.pollEvent() { onEvent?(false, handle, event) }
    }

    /// Sends, advances to the next delivery or timer, delivers and fires timers.
    func step() -> Bool {
        drainEvents()
        for (isClient, endpoint) in [(true, client), (false, server)] {
            while let transmit = endpoint.pollTransmit(now: now, into: buffer) {
                let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<transmit.size]))
                let index = isClient ? sentByClient.count : sentByServer.count
                if isClient { sentByClient.append(transmit.ecn) } else { sentByServer.append(transmit.ecn) }
                queue.append((now + .milliseconds(10), isClient, bytes, rewrite(isClient, transmit.ecn, index)))
            }
        }
        drainEvents()
        var next = queue.first?.time
        for endpoint in [client, server] {
            if let timeout = endpoint.nextTimeout(), next.map({ timeout < $0 }) ?? true { next = timeout }
        }
        guard let next else { return false }
        if next > now { now = next }
        while let first = queue.first, first.time <= now {
            queue.removeFirst()
            let endpoint = first.toServer ? server : client
            endpoint.handle(
                datagram: first.bytes, from: first.toServer ? clientAddress : serverAddress, ecn: first.ecn, now: now)
        }
        for endpoint in [client, server] {
            if let timeout = endpoint.nextTimeout(), timeout <= now { endpoint.handleTimeout(now: now) }
        }
        drainEvents()
        return true
    }

    @discardableResult
    func run(for limit: Duration, until predicate: () -> Bool) -> Bool {
        let deadline = now + limit
        while !predicate() {
            guard now <= deadline, step() else { return predicate() }
        }
        return true
    }

    /// Connects, then sends `size` bytes from client to server on one stream; returns both connections once
    /// the server read everything.
    func transfer(size: Int) throws -> (client: TransportConnection, server: TransportConnection, received: [UInt8]) {
        var received: [UInt8] = []
        var finished = false
        var serverHandle: ConnectionHandle?
        onEvent = { [unowned self] isClient, handle, event in
            guard !isClient else { return }
            serverHandle = handle
            switch event {
            case .streamOpened(let stream), .streamReadable(let stream):
                guard let connection = self.server.connection(handle) else { return }
                reading: while let result = try? connection.read(stream, maxLength: 1 << 20) {
                    switch result {
                    case .data(let bytes): received += bytes
                    case .finished:
                        finished = true
                        break reading
                    case .blocked: break reading
                    }
                }
            default:
                break
            }
        }
        let handle = try connect()
        XCTAssertTrue(run(for: .seconds(5)) { client.connection(handle)?.isHandshakeConfirmed ?? false })
        let connection = try XCTUnwrap(client.connection(handle))
        let stream = try XCTUnwrap(connection.openStream(bidirectional: false))
        let payload = patternBytes(count: size)
        var offset = 0
        XCTAssertTrue(run(for: .seconds(30)) {
            if offset < size, let accepted = try? payload[offset...].withUnsafeBytes({ try connection.write(stream, $0) }) {
                offset += accepted
                if offset == size { try? connection.finish(stream) }
            }
            return finished
        })
        let server = try XCTUnwrap(serverHandle.flatMap { self.server.connection($0) })
        return (connection, server, received)
    }
}

/// ECN (RFC 9000 §13.4): marking, counting, validation, and CE as a congestion signal (RFC 9002 §B.7).
final class ECNTests: XCTestCase {
    func testPathThatCarriesECNIsValidatedAndStaysMarked() throws {
        let link = try ECNLink()
        let result = try link.transfer(size: 200_000)
        XCTAssertEqual(result.received, patternBytes(count: 200_000))
        XCTAssertEqual(result.client.ecnState, .capable)
        XCTAssertEqual(result.server.ecnState, .capable)
        XCTAssertTrue(link.sentByClient.allSatisfy { $0 == 0b10 }, "every datagram ECT(0)")
        XCTAssertEqual(result.client.recovery.ecn.congestionEvents, 0)
        // The receiver counted the marks into ACK_ECN frames.
        let counts = result.server.space(.application).received.ecnCounts
        XCTAssertGreaterThan(counts.ect0, 100)
        XCTAssertEqual(counts.ce, 0)
    }

    func testBleachingPathFailsValidationAndMarkingStops() throws {
        let link = try ECNLink()
        link.rewrite = { toServer, codepoint, _ in toServer ? 0 : codepoint }
        let result = try link.transfer(size: 100_000)
        XCTAssertEqual(result.received, patternBytes(count: 100_000))
        XCTAssertEqual(result.client.ecnState, .failed)
        XCTAssertEqual(link.sentByClient.last, 0, "Not-ECT after validation failed")
        XCTAssertEqual(result.server.ecnState, .capable, "the other direction still carries ECN")
    }

    func testDisabledECNNeverMarks() throws {
        var transport = TransportConfig()
        transport.isECNEnabled = false
        let link = try ECNLink(transport: transport)
        let result = try link.transfer(size: 50_000)
        XCTAssertEqual(result.received, patternBytes(count: 50_000))
        XCTAssertTrue(link.sentByClient.allSatisfy { $0 == 0 })
        XCTAssertEqual(result.client.ecnState, .failed)
    }

    func testCongestionExperiencedReducesTheWindowWithoutLoss() throws {
        let link = try ECNLink()
        // After the first 300 datagrams from the client, mark every 50th CE.
        link.rewrite = { toServer, codepoint, index in
            toServer && index > 300 && index % 50 == 0 ? 0b11 : codepoint
        }
        let result = try link.transfer(size: 1_000_000)
        XCTAssertEqual(result.received, patternBytes(count: 1_000_000))
        XCTAssertEqual(result.client.ecnState, .capable, "CE marks are valid ECN")
        XCTAssertGreaterThan(result.client.recovery.ecn.congestionEvents, 0)
        XCTAssertEqual(result.client.stats.packetsLost, 0)
        XCTAssertLessThan(result.client.recovery.congestionController.slowStartThreshold, Int.max,
                          "a CE increase is a congestion event")
    }

    func testValidatorRules() {
        var validator = ECNValidator()
        XCTAssertEqual(validator.codepoint, 0b10)
        // Counts covering the newly acknowledged marked packets validate.
        XCTAssertFalse(validator.onAck(
            counts: ECNCounts(ect0: 3, ect1: 0, ce: 0), largestAcknowledged: 2, newlyAcknowledgedMarked: 3,
            spaceIndex: 2))
        XCTAssertEqual(validator.state, .capable)
        // An older (reordered) ACK is ignored.
        XCTAssertFalse(validator.onAck(
            counts: ECNCounts(ect0: 1, ect1: 0, ce: 0), largestAcknowledged: 1, newlyAcknowledgedMarked: 0,
            spaceIndex: 2))
        XCTAssertEqual(validator.state, .capable)
        // A CE increase is reported.
        XCTAssertTrue(validator.onAck(
            counts: ECNCounts(ect0: 4, ect1: 0, ce: 1), largestAcknowledged: 4, newlyAcknowledgedMarked: 2,
            spaceIndex: 2))
        // Counts that do not cover the newly acknowledged packets fail.
        XCTAssertFalse(validator.onAck(
            counts: ECNCounts(ect0: 5, ect1: 0, ce: 1), largestAcknowledged: 8, newlyAcknowledgedMarked: 4,
            spaceIndex: 2))
        XCTAssertEqual(validator.state, .failed)
        XCTAssertEqual(validator.codepoint, 0)

        var lossy = ECNValidator()
        lossy.onMarkedPacketsLost(9)
        XCTAssertEqual(lossy.state, .testing)
        lossy.onMarkedPacketsLost(1)
        XCTAssertEqual(lossy.state, .failed, "every marked packet of the test lost")

        var ect1 = ECNValidator()
        _ = ect1.onAck(
            counts: ECNCounts(ect0: 1, ect1: 1, ce: 0), largestAcknowledged: 1, newlyAcknowledgedMarked: 1,
            spaceIndex: 0)
        XCTAssertEqual(ect1.state, .failed, "ECT(1) was never sent")
    }
}

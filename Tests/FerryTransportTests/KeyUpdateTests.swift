import FerryTestSupport
import XCTest

@testable import FerryTransport

/// 1-RTT key updates (RFC 9001 §6) and the AEAD limits (RFC 9001 §6.6) on the simulated network. The test cipher
/// derives different keys per phase, so a packet opened with the wrong phase's keys fails authentication.
final class KeyUpdateTransferTests: XCTestCase {
    /// A 20 ms RTT network limited to 2 MB/s each way, so transfers last long enough for several updates (an
    /// update waits until the previous phase's read keys are dropped, three PTOs after the switch).
    private func makeNetwork(interval: UInt64?, serverInterval: UInt64? = nil) -> SimulatedNetwork {
        var transport = TransportConfig()
        transport.keyUpdateInterval = interval
        var serverTransport = TransportConfig()
        serverTransport.keyUpdateInterval = serverInterval ?? interval
        return SimulatedNetwork(
            transport: transport, serverTransport: serverTransport, conditions: LinkConditions(bandwidth: 2_000_000))
    }

    /// Sends 2 MB each way at once and returns both connections once everything arrived intact.
    private func transferBothWays(
        on network: SimulatedNetwork
    ) throws -> (client: TransportConnection, server: TransportConnection) {
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.serverConnection)
        let serverHandle = try XCTUnwrap(network.serverHandle)
        let size = 2_000_000
        let upload = try XCTUnwrap(client.openStream(bidirectional: false))
        let download = try XCTUnwrap(server.openStream(bidirectional: false))
        harness.send(patternBytes(count: size), on: upload, role: .client, handle: handle)
        harness.send(patternBytes(count: size, offset: 7), on: download, role: .server, handle: serverHandle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(60)) {
            (harness.finishedStreams[.server]?.contains(upload) ?? false)
                && (harness.finishedStreams[.client]?.contains(download) ?? false)
        })
        XCTAssertEqual(harness.received[.server]?[upload], patternBytes(count: size))
        XCTAssertEqual(harness.received[.client]?[download], patternBytes(count: size, offset: 7))
        XCTAssertEqual(client.keyUpdate.failedDecryptions, 0, "no packet was opened with the wrong phase's keys")
        XCTAssertEqual(server.keyUpdate.failedDecryptions, 0)
        XCTAssertTrue(harness.closedEvents.isEmpty)
        return (client, server)
    }

    func testClientInitiatedUpdatesMidTransferBothWays() throws {
        let (client, server) = try transferBothWays(on: makeNetwork(interval: 150, serverInterval: .max))
        XCTAssertGreaterThanOrEqual(client.keyUpdateCounts.local, 2, "\(client.keyUpdateCounts)")
        XCTAssertEqual(server.keyUpdateCounts.local, 0)
        XCTAssertGreaterThanOrEqual(server.keyUpdateCounts.peer, client.keyUpdateCounts.local - 1)
        XCTAssertEqual(client.keyUpdateCounts.peer, 0)
        // What ConnectionStats reports (ferry-bench --details, Interop/run_cases.py keyupdate) is the same count.
        XCTAssertEqual(client.stats.keyUpdatesInitiated, client.keyUpdateCounts.local)
        XCTAssertEqual(server.stats.keyUpdatesFollowed, server.keyUpdateCounts.peer)
        XCTAssertEqual(client.stats.keyUpdatesFollowed, 0)
    }

    func testServerInitiatedUpdatesMidTransferBothWays() throws {
        let (client, server) = try transferBothWays(on: makeNetwork(interval: .max, serverInterval: 150))
        XCTAssertGreaterThanOrEqual(server.keyUpdateCounts.local, 2, "\(server.keyUpdateCounts)")
        XCTAssertEqual(client.keyUpdateCounts.local, 0)
        XCTAssertGreaterThanOrEqual(client.keyUpdateCounts.peer, server.keyUpdateCounts.local - 1)
    }

    func testSimultaneousUpdatesFromBothSides() throws {
        let (client, server) = try transferBothWays(on: makeNetwork(interval: 150))
        XCTAssertGreaterThanOrEqual(client.keyUpdateCounts.local + client.keyUpdateCounts.peer, 2)
        XCTAssertGreaterThanOrEqual(server.keyUpdateCounts.local + server.keyUpdateCounts.peer, 2)
    }

    func testNoSecondUpdateBeforeTheFirstIsAcknowledged() throws {
        let interval: UInt64 = 4
        let network = makeNetwork(interval: interval)
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(client.openStream(bidirectional: false))
        let size = 1_500_000
        harness.send(patternBytes(count: size), on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(10)) { (harness.received[.server]?[stream]?.count ?? 0) > 100_000 })
        // The server's packets (and so its ACKs) stop arriving: at most one more update may start.
        network.serverToClient.lossRate = 1
        let before = client.keyUpdateCounts.local
        harness.run(timeLimit: .seconds(3)) { false }
        XCTAssertLessThanOrEqual(client.keyUpdateCounts.local, before + 1)
        XCTAssertGreaterThan(client.keyUpdate.packetsSentInPhase, interval, "an update was due but not allowed")
        network.serverToClient.lossRate = 0
        let blocked = client.keyUpdateCounts.local
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) { harness.finishedStreams[.server]?.contains(stream) ?? false })
        XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: size))
        XCTAssertGreaterThan(client.keyUpdateCounts.local, blocked, "updates resume once acknowledged")
        XCTAssertTrue(harness.closedEvents.isEmpty)
    }

    func testIntegrityLimitClosesWithAEADLimitReached() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        var captured: [UInt8]?
        network.onDatagram = { role, bytes in
            if role == .client, let first = bytes.first, first & 0x80 == 0 { captured = bytes }
        }
        let handle = try harness.establish()
        XCTAssertTrue(harness.run(timeLimit: .seconds(1)) { captured != nil })
        let server = try XCTUnwrap(network.serverConnection)
        server.keyUpdate.integrityLimit = 3
        var forged = try XCTUnwrap(captured)
        forged[forged.count - 1] ^= 0x55  // breaks the AEAD tag only
        for _ in 0..<3 { network.inject(forged, to: .server) }
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) { network.client.connection(handle)?.isClosed ?? true })
        let serverClose = harness.closedEvents.first { $0.0 == .server }?.1
        guard case .transportError(let error, by: .local)? = serverClose else {
            return XCTFail("server closed with \(String(describing: serverClose))")
        }
        XCTAssertEqual(error.code, .aeadLimitReached)
        let clientClose = harness.closedEvents.first { $0.0 == .client }?.1
        guard case .transportError(let peerError, by: .peer)? = clientClose else {
            return XCTFail("client closed with \(String(describing: clientClose))")
        }
        XCTAssertEqual(peerError.code, .aeadLimitReached)
    }

    func testAEADLimitsFollowTheCipherSuite() {
        XCTAssertEqual(KeyUpdateState.limits(for: .aes128GCMSHA256).confidentiality, 1 << 23)
        XCTAssertEqual(KeyUpdateState.limits(for: .aes256GCMSHA384).integrity, 1 << 52)
        XCTAssertEqual(KeyUpdateState.limits(for: .chacha20Poly1305SHA256).integrity, 1 << 36)
        XCTAssertEqual(KeyUpdateState.limits(for: .chacha20Poly1305SHA256).confidentiality, 1 << 62)
    }
}

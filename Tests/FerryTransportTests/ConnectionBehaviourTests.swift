import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Datagrams, closes, timeouts, padding and amplification over the simulated network.
final class ConnectionBehaviourTests: XCTestCase {
    func testDatagramsBothWays() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertNotNil(client.maxDatagramPayloadSize)
        for index in 0..<5 {
            try client.sendDatagram(patternBytes(count: 100 + index))
            try server.sendDatagram(patternBytes(count: 200 + index))
        }
        XCTAssertTrue(harness.run(timeLimit: .seconds(2)) {
            harness.datagrams[.server]?.count == 5 && harness.datagrams[.client]?.count == 5
        })
        XCTAssertEqual(harness.datagrams[.server]?.first, patternBytes(count: 100))
        XCTAssertEqual(harness.datagrams[.client]?.last, patternBytes(count: 204))
        let maximum = try XCTUnwrap(client.maxDatagramPayloadSize)
        XCTAssertThrowsError(try client.sendDatagram(patternBytes(count: maximum + 1))) { error in
            XCTAssertEqual(error as? DatagramError, .tooLarge(maximum: maximum))
        }
    }

    func testDatagramsUnsupportedWhenPeerDisablesThem() throws {
        var serverTransport = TransportConfig()
        serverTransport.maxDatagramFrameSize = nil
        let network = SimulatedNetwork(serverTransport: serverTransport)
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertThrowsError(try client.sendDatagram([1, 2, 3])) { error in
            XCTAssertEqual(error as? DatagramError, .unsupportedByPeer)
        }
    }

    func testApplicationCloseSeenByPeerWithCodeAndReason() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        client.close(errorCode: 42, reason: "bye", now: network.now)
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) {
            harness.closedEvents.contains { $0.0 == .server }
        })
        let serverReason = harness.closedEvents.first { $0.0 == .server }?.1
        XCTAssertEqual(serverReason, .applicationClosed(errorCode: 42, reason: "bye", by: .peer))
        let clientReason = harness.closedEvents.first { $0.0 == .client }?.1
        XCTAssertEqual(clientReason, .applicationClosed(errorCode: 42, reason: "bye", by: .local))
        // Closing and draining periods end; both endpoints forget the connection.
        network.runUntilIdle(timeLimit: .seconds(10))
        XCTAssertEqual(network.client.connectionCount, 0)
        XCTAssertEqual(network.server.connectionCount, 0)
    }

    func testKeepAlivePreventsIdleTimeout() throws {
        var transport = TransportConfig()
        transport.maxIdleTimeout = .seconds(2)
        transport.keepAliveInterval = .milliseconds(500)
        let network = SimulatedNetwork(transport: transport)
        let harness = StreamHarness(network: network)
        _ = try harness.establish()
        harness.run(timeLimit: .seconds(10)) { false }
        XCTAssertTrue(harness.closedEvents.isEmpty)
    }

    func testClientInitialDatagramsArePaddedTo1200() throws {
        let network = SimulatedNetwork()
        var initialSizes: [Int] = []
        network.onDatagram = { role, bytes in
            // Long header, type Initial (bits 0x30 == 0) as the first packet.
            if role == .client && bytes[0] & 0x80 != 0 && bytes[0] & 0x30 == 0 { initialSizes.append(bytes.count) }
        }
        let harness = StreamHarness(network: network)
        _ = try harness.establish()
        XCTAssertFalse(initialSizes.isEmpty)
        XCTAssertTrue(initialSizes.allSatisfy { $0 >= 1200 }, "\(initialSizes)")
    }

    func testServerRespectsAmplificationLimit() throws {
        // The client's Handshake packets are lost, so the server never validates the address and must stop at
        // three times what it received (RFC 9000 §8.1).
        let network = SimulatedNetwork()
        var serverSent = 0
        var clientSent = 0
        network.onDatagram = { role, bytes in
            if role == .server { serverSent += bytes.count } else { clientSent += bytes.count }
        }
        network.clientToServer.lossRate = 0
        _ = try network.connect()
        // Deliver only the first client datagram, then cut the client → server link.
        network.step()
        network.clientToServer.lossRate = 1
        network.run(until: { false }, timeLimit: .seconds(5))
        XCTAssertGreaterThan(serverSent, 0)
        XCTAssertLessThanOrEqual(serverSent, 3 * 1200)
    }

    func testVersionNegotiationForUnknownVersion() throws {
        let network = SimulatedNetwork()
        var packet = [UInt8](repeating: 0, count: 1200)
        packet[0] = 0xC0
        packet[1...4] = [0x0a, 0x1a, 0x2a, 0x3a]
        packet[5] = 8
        for index in 0..<8 { packet[6 + index] = UInt8(index + 1) }
        packet[14] = 4
        for index in 0..<4 { packet[15 + index] = UInt8(0xA0 + index) }
        var responses: [[UInt8]] = []
        network.onDatagram = { role, bytes in if role == .server { responses.append(bytes) } }
        network.inject(packet, to: .server)
        network.runUntilIdle(timeLimit: .seconds(1))
        XCTAssertEqual(responses.count, 1)
        let response = try XCTUnwrap(responses.first)
        let header = try PacketHeader.parse(response, at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.type, .versionNegotiation)
        XCTAssertEqual(header.destinationConnectionID.bytes, [0xA0, 0xA1, 0xA2, 0xA3])
        XCTAssertEqual(header.sourceConnectionID.bytes, [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertTrue(header.supportedVersions.contains(QUICVersion.version1))
        XCTAssertEqual(network.server.connectionCount, 0)
        // Short datagrams of unknown versions get no answer (RFC 9000 §6.1).
        responses.removeAll()
        network.inject(Array(packet[0..<600]), to: .server)
        network.runUntilIdle(timeLimit: .seconds(1))
        XCTAssertTrue(responses.isEmpty)
    }

    func testSmallInitialAndUnknownShortHeaderAreDropped() throws {
        let network = SimulatedNetwork()
        var responses = 0
        network.onDatagram = { role, _ in if role == .server { responses += 1 } }
        var initial = [UInt8](repeating: 0, count: 300)
        initial[0] = 0xC0
        initial[1...4] = [0, 0, 0, 1]
        initial[5] = 8
        network.inject(initial, to: .server)
        network.runUntilIdle(timeLimit: .seconds(1))
        XCTAssertEqual(responses, 0)
        // An unknown short header is answered by a stateless reset instead (RFC 9000 §10.3; StatelessResetTests).
        network.inject([0x40] + [UInt8](repeating: 7, count: 60), to: .server)
        network.runUntilIdle(timeLimit: .seconds(1))
        XCTAssertGreaterThan(responses, 0)
        XCTAssertEqual(network.server.statelessResetsSent, UInt64(responses))
        XCTAssertEqual(network.server.connectionCount, 0)
    }

    func testConnectionIDsAreIssuedAfterHandshake() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        harness.run(timeLimit: .milliseconds(200)) { false }
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.serverConnection)
        // activeConnectionIDLimit 4 on both sides: each issues 3 more.
        XCTAssertEqual(client.localConnectionIDs.issued.count, 4)
        XCTAssertEqual(server.localConnectionIDs.issued.count, 4)
        XCTAssertEqual(client.peerConnectionIDs.available.count, 3)
        XCTAssertEqual(server.peerConnectionIDs.available.count, 3)
        XCTAssertEqual(network.client.routes.count, 4)
    }

    func testALPNMismatchClosesWithCryptoError() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        _ = try network.connect(alpns: [Array("other".utf8)])
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) { harness.closedEvents.count == 2 })
        let clientReason = harness.closedEvents.first { $0.0 == .client }?.1
        guard case .tlsFailure(let alert, _, let by)? = clientReason else {
            return XCTFail("unexpected \(String(describing: clientReason))")
        }
        XCTAssertEqual(alert, HandshakeError.noApplicationProtocol)
        XCTAssertEqual(by, .peer)
    }

    func testWrongServerIdentityFailsHandshake() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        _ = try network.connect(expectedPeer: TestCryptoProvider.makeIdentity(seed: 99))
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) { harness.closedEvents.contains { $0.0 == .client } })
        let clientReason = harness.closedEvents.first { $0.0 == .client }?.1
        guard case .tlsFailure(let alert, _, let by)? = clientReason else {
            return XCTFail("unexpected \(String(describing: clientReason))")
        }
        XCTAssertEqual(alert, HandshakeError.badCertificate)
        XCTAssertEqual(by, .local)
    }
}

/// GSO batches from `pollTransmit(now:into:maxSegments:)`.
final class SegmentationTests: XCTestCase {
    func testBulkDataIsBatchedIntoEqualSegments() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        // Full-size datagrams once the PMTU probe is acknowledged (DPLPMTUD starts at 1200, RFC 9000 §14.3).
        XCTAssertTrue(harness.run(timeLimit: .seconds(1)) { client.stats.pathMTU == TransportConfig().maxUDPPayloadSize })
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        _ = try client.write(stream, patternBytes(count: 200_000))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        let transmit = try XCTUnwrap(network.client.pollTransmit(now: network.now, into: buffer, maxSegments: 10))
        let segmentSize = try XCTUnwrap(transmit.segmentSize)
        XCTAssertEqual(segmentSize, TransportConfig().maxUDPPayloadSize)
        XCTAssertGreaterThan(transmit.size, segmentSize)
        XCTAssertLessThanOrEqual(transmit.size, 10 * segmentSize)
        // Every segment is a valid short-header packet for the server's connection ID.
        let bytes = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<transmit.size]))
        var offset = 0
        while offset < bytes.count {
            let segment = Array(bytes[offset..<min(offset + segmentSize, bytes.count)])
            let id = try PacketHeader.destinationConnectionID(in: segment, shortHeaderConnectionIDLength: 8)
            XCTAssertEqual(id, client.destinationConnectionID)
            XCTAssertEqual(segment[0] & 0x80, 0)
            offset += segmentSize
        }
    }
}

extension SegmentationTests {
    /// A relay's or relay client's traffic: DATAGRAM frames of equal size, each under the path's maximum, batch
    /// into segments of the first datagram's size; a larger datagram later in the queue waits for the next batch.
    func testEqualSizeDatagramsAreBatchedAtTheirOwnSize() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertTrue(harness.run(timeLimit: .seconds(1)) { client.stats.pathMTU == TransportConfig().maxUDPPayloadSize })
        for index in 0..<8 { try client.sendDatagram([UInt8](repeating: UInt8(index), count: 1200)) }
        try client.sendDatagram([UInt8](repeating: 0xee, count: 1300))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        let transmit = try XCTUnwrap(network.client.pollTransmit(now: network.now, into: buffer, maxSegments: 16))
        let segmentSize = try XCTUnwrap(transmit.segmentSize)
        XCTAssertLessThan(segmentSize, TransportConfig().maxUDPPayloadSize)
        XCTAssertGreaterThan(segmentSize, 1200)
        // Eight full segments, and perhaps a shorter last one (an ACK).
        XCTAssertGreaterThanOrEqual(transmit.size, 8 * segmentSize)
        XCTAssertLessThan(transmit.size, 9 * segmentSize)
        // The 1300-byte datagram did not fit a segment: it leaves whole in the next transmit.
        let next = try XCTUnwrap(network.client.pollTransmit(now: network.now, into: buffer, maxSegments: 16))
        XCTAssertGreaterThan(next.size, 1300)
        XCTAssertNil(next.segmentSize)
    }
}

/// Stateless reset detection (RFC 9000 §10.3.1).
final class StatelessResetTests: XCTestCase {
    func testClientRecognisesStatelessReset() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        _ = try harness.establish()
        let server = try XCTUnwrap(network.serverConnection)
        let token = try XCTUnwrap(server.localConnectionIDs.lookup(sequenceNumber: 0)?.resetToken)
        var reset: [UInt8] = [0x4b] + [UInt8](repeating: 0x5a, count: 30)
        reset += token.bytes
        network.inject(reset, to: .client)
        XCTAssertTrue(harness.run(timeLimit: .seconds(1)) { harness.closedEvents.contains { $0.0 == .client } })
        XCTAssertEqual(harness.closedEvents.first { $0.0 == .client }?.1, .statelessReset)
    }
}

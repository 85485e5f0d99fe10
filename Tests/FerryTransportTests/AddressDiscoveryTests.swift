import FerryTestSupport
import XCTest

@testable import FerryTransport

/// QUIC Address Discovery between two endpoints (draft-ietf-quic-address-discovery-00): negotiation, the
/// OBSERVED_ADDRESS frames after the handshake, on new paths and after a NAT rebinding, and the errors.
final class AddressDiscoveryTests: XCTestCase {
    private func config(_ role: AddressDiscoveryRole) -> TransportConfig {
        var config = TransportConfig()
        config.addressDiscovery = role
        return config
    }

    private func observedChanges(_ events: [(ConnectionHandle, ConnectionEvent)]) -> [NetworkAddress] {
        events.compactMap { if case .observedAddressChanged(let address) = $0.1 { address } else { nil } }
    }

    private func observedChanges(_ events: [ConnectionEvent]) -> [NetworkAddress] {
        events.compactMap { if case .observedAddressChanged(let address) = $0 { address } else { nil } }
    }

    private func isClosed(_ events: [(ConnectionHandle, ConnectionEvent)]) -> Bool {
        events.contains { if case .closed = $0.1 { true } else { false } }
    }

    /// An OBSERVED_ADDRESS frame's bytes.
    private func encoded(_ sequenceNumber: UInt64, _ address: NetworkAddress) throws -> [UInt8] {
        let frame = try XCTUnwrap(
            ObservedAddressFrame(sequenceNumber: sequenceNumber, ipAddress: address.ipBytes, port: address.port))
        return ByteWriter.encode(capacity: frame.encodedLength) { frame.encode(into: &$0) }
    }

    // MARK: After the handshake

    func testBothSidesLearnTheirObservedAddressAfterTheHandshake() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        XCTAssertEqual(client.localTransportParameters.addressDiscovery, .provideAndReceive)
        XCTAssertEqual(server.peerTransportParameters?.addressDiscovery, .provideAndReceive)
        XCTAssertTrue(network.run(for: .seconds(1)) { client.observedAddress != nil && server.observedAddress != nil })
        // Each side reports the address it sees the other at, on the handshake path (§5).
        XCTAssertEqual(client.observedAddress, network.clientSocket)
        XCTAssertEqual(server.observedAddress, network.serverAddress)
        XCTAssertEqual(observedChanges(network.clientEvents), [network.clientSocket])
        XCTAssertEqual(observedChanges(network.serverEvents), [network.serverAddress])
        XCTAssertEqual(client.addressDiscovery.largestReceivedSequenceNumber, 0)
        XCTAssertEqual(server.addressDiscovery.largestReceivedSequenceNumber, 0)
        network.run(for: .seconds(1))
        XCTAssertFalse(client.hasPendingObservedAddress || server.hasPendingObservedAddress)
        XCTAssertEqual(server.addressDiscovery.nextSequenceNumber, 1, "one report, not repeated once delivered")
        XCTAssertFalse(isClosed(network.clientEvents) || isClosed(network.serverEvents))
    }

    func testNATRebindingReportsTheNewAddressWithAHigherSequenceNumber() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        XCTAssertTrue(network.run(for: .seconds(1)) { client.observedAddress == network.clientSocket })
        let sequenceBefore = try XCTUnwrap(client.addressDiscovery.largestReceivedSequenceNumber)
        let rebound = NetworkAddress(ipBytes: [192, 0, 2, 7], port: 40_000)!
        network.nat[network.clientSocket] = rebound
        let stream = try network.upload(patternBytes(count: 20_000), on: handle)
        XCTAssertTrue(network.run(for: .seconds(5)) { client.observedAddress == rebound }, "the client learns its new address")
        XCTAssertGreaterThan(try XCTUnwrap(client.addressDiscovery.largestReceivedSequenceNumber), sequenceBefore)
        XCTAssertEqual(observedChanges(network.clientEvents), [network.clientSocket, rebound])
        XCTAssertTrue(network.run(for: .seconds(5)) { network.serverFinished.contains(stream) })
        // The server reported on the new path; the old path's report left with the path.
        XCTAssertEqual(server.selectedPathID, 1)
        XCTAssertEqual(server.addressDiscovery.reports.map(\.pathID), [1])
        XCTAssertEqual(server.addressDiscovery.reports.first?.address, rebound)
        XCTAssertFalse(isClosed(network.clientEvents) || isClosed(network.serverEvents))
    }

    func testClientMigrationReportsOnTheNewPathBothWays() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        XCTAssertTrue(network.run(for: .seconds(1)) { client.observedAddress != nil && server.observedAddress != nil })
        let newLocal = NetworkAddress(ipBytes: [10, 0, 1, 1], port: 5000)!
        network.clientLocals.insert(newLocal)
        try client.migrate(to: newLocal, from: network.clientSocket, now: network.now)
        let stream = try network.upload(patternBytes(count: 20_000), on: handle)
        XCTAssertTrue(network.run(for: .seconds(5)) { client.observedAddress == newLocal })
        XCTAssertTrue(network.run(for: .seconds(5)) { network.serverFinished.contains(stream) })
        // The client also reported the server's address on its new path, with its next sequence number (§5).
        XCTAssertEqual(server.addressDiscovery.largestReceivedSequenceNumber, 1)
        XCTAssertEqual(server.observedAddress, network.serverAddress)
        XCTAssertEqual(observedChanges(network.serverEvents), [network.serverAddress], "same address: no new event")
        XCTAssertEqual(client.addressDiscovery.reports.map(\.pathID), [1])
    }

    // MARK: Ordering and retransmission

    func testOlderOrEqualSequenceNumbersAreIgnored() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        let server = try probe.connection(.server)
        XCTAssertTrue(probe.harness.run(timeLimit: .seconds(1)) { client.observedAddress != nil })
        let newer = NetworkAddress(ipBytes: [198, 51, 100, 1], port: 1111)!
        let stale = NetworkAddress(ipBytes: [198, 51, 100, 2], port: 2222)!
        for (sequenceNumber, address) in [(5, newer), (3, stale), (5, stale), (6, newer)] as [(UInt64, NetworkAddress)] {
            let packetNumber = server.space(.application).nextPacketNumber
            let packet = try craftProtectedOneRTTPacket(from: server, payload: try encoded(sequenceNumber, address))
            // Recorded as sent, so the client's acknowledgement of it is no ACK of an unsent packet.
            server.recovery.onPacketSent(
                SentPacket(packetNumber: packetNumber, timeSent: probe.network.now, size: packet.count, isAckEliciting: true),
                space: .application, now: probe.network.now)
            probe.network.inject(packet, to: .client, delay: .milliseconds(1))
            probe.harness.run(timeLimit: .milliseconds(50)) { false }
        }
        XCTAssertEqual(client.observedAddress, newer)
        XCTAssertEqual(client.addressDiscovery.largestReceivedSequenceNumber, 6)
        XCTAssertEqual(observedChanges(probe.network.events(of: .client)), [probe.network.clientAddress, newer])
        XCTAssertTrue(probe.harness.closedEvents.isEmpty, "\(probe.harness.closedEvents)")
    }

    func testLostReportIsRepeatedOnItsPathWhileCurrent() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        let server = try probe.connection(.server)
        XCTAssertTrue(probe.harness.run(timeLimit: .seconds(1)) { client.observedAddress != nil })
        let report = try XCTUnwrap(server.addressDiscovery.reports.first)
        XCTAssertFalse(report.isPending)
        let lost = SentPacket(
            packetNumber: 1_000_000, timeSent: probe.network.now, size: 100, isAckEliciting: true,
            frames: [.observedAddress(pathID: report.pathID, sequenceNumber: report.sequenceNumber)])
        server.onPacketsLost([lost], level: .application)
        XCTAssertTrue(server.hasPendingObservedAddress, "a lost current report is owed again")
        XCTAssertTrue(probe.harness.run(timeLimit: .seconds(1)) { !server.hasPendingObservedAddress })
        XCTAssertEqual(server.addressDiscovery.nextSequenceNumber, report.sequenceNumber + 1, "same sequence number")
        // A loss of a report that is no longer current repairs nothing.
        let stale = SentPacket(
            packetNumber: 1_000_001, timeSent: probe.network.now, size: 100, isAckEliciting: true,
            frames: [.observedAddress(pathID: report.pathID, sequenceNumber: report.sequenceNumber + 7)])
        server.onPacketsLost([stale], level: .application)
        XCTAssertFalse(server.hasPendingObservedAddress)
        probe.harness.run(timeLimit: .milliseconds(200)) { false }
        XCTAssertEqual(client.addressDiscovery.largestReceivedSequenceNumber, report.sequenceNumber)
        XCTAssertEqual(observedChanges(probe.network.events(of: .client)).count, 1, "the repeat changes nothing")
        XCTAssertTrue(probe.harness.closedEvents.isEmpty)
    }

    // MARK: Negotiation

    func testPeerThatDoesNotAskGetsNoFrame() throws {
        for clientRole in [AddressDiscoveryRole.disabled, .provide] {
            let network = PathTestNetwork(transport: config(clientRole), serverTransport: config(.both))
            let (handle, serverHandle) = try network.connect()
            let client = try XCTUnwrap(network.client.connection(handle))
            let server = try XCTUnwrap(network.server.connection(serverHandle))
            network.run(for: .seconds(1))
            XCTAssertEqual(client.localTransportParameters.addressDiscovery, clientRole.transportParameterValue)
            XCTAssertFalse(server.addressDiscovery.isSending, "\(clientRole)")
            XCTAssertTrue(server.addressDiscovery.reports.isEmpty)
            // A frame would have closed the client with PROTOCOL_VIOLATION (§4.1).
            XCTAssertNil(client.observedAddress)
            XCTAssertFalse(isClosed(network.clientEvents) || isClosed(network.serverEvents), "\(clientRole)")
            XCTAssertEqual(server.observedAddress, clientRole == .provide ? network.serverAddress : nil)
        }
    }

    func testProvideOnOneSideAndReceiveOnTheOtherIsOneDirectional() throws {
        let network = PathTestNetwork(transport: config(.provide), serverTransport: config(.receive))
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        XCTAssertTrue(network.run(for: .seconds(1)) { server.observedAddress != nil })
        network.run(for: .seconds(1))
        XCTAssertEqual(server.observedAddress, network.serverAddress)
        XCTAssertNil(client.observedAddress)
        XCTAssertTrue(client.addressDiscovery.isSending)
        XCTAssertFalse(server.addressDiscovery.isSending)
        XCTAssertEqual(client.peerTransportParameters?.addressDiscovery, .receiveOnly)
        XCTAssertEqual(server.peerTransportParameters?.addressDiscovery, .provideOnly)
        XCTAssertEqual(observedChanges(network.clientEvents), [])
        XCTAssertFalse(isClosed(network.clientEvents) || isClosed(network.serverEvents))
    }

    func testFrameWithoutAskingIsProtocolViolation() throws {
        for clientRole in [AddressDiscoveryRole.disabled, .provide] {
            let network = SimulatedNetwork(transport: config(clientRole), serverTransport: config(.both))
            let probe = try ViolationProbe(network: network)
            let reason = try probe.receiverCloseReason(
                afterSending: try encoded(0, network.clientAddress), from: .server)
            assertTransportClose(reason, [.protocolViolation])
            if case .transportError(let error, _)? = reason {
                XCTAssertEqual(error.frameType, FrameType.observedAddressIPv4, "\(clientRole)")
            }
        }
    }
}

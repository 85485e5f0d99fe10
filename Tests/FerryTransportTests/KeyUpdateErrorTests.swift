import FerryTestSupport
import XCTest

@testable import FerryTransport

/// KEY_UPDATE_ERROR (RFC 9000 §20.1, RFC 9001 §6.2): the two key update misbehaviours an endpoint can detect
/// reliably. The test cipher derives different keys per phase, so the forged packets below open only with the
/// keys of the phase they claim.
final class KeyUpdateErrorTests: XCTestCase {
    /// Reserves `count` packet numbers of the client's 1-RTT space; returns the first.
    private func reservePacketNumbers(_ count: UInt64, of connection: TransportConnection) -> UInt64 {
        let space = connection.space(.application)
        let first = space.nextPacketNumber
        space.nextPacketNumber += count
        return first
    }

    func testSecondUpdateBeforeTheFirstIsAcknowledgedClosesWithKeyUpdateError() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        let server = try probe.connection(.server)
        let current = try XCTUnwrap(client.space(.application).localKeys)
        let next = try current.makeNextKeyPhase()
        let afterNext = try next.makeNextKeyPhase()
        let first = reservePacketNumbers(2, of: client)
        let phase = client.keyPhase
        // Both packets arrive together, before the server can acknowledge the first update.
        let update = try craftProtectedOneRTTPacket(
            from: client, keys: next, keyPhase: !phase, packetNumber: first, payload: [0x01])
        let secondUpdate = try craftProtectedOneRTTPacket(
            from: client, keys: afterNext, keyPhase: phase, packetNumber: first + 1, payload: [0x01])
        probe.network.inject(update, to: .server, delay: .milliseconds(1))
        probe.network.inject(secondUpdate, to: .server, delay: .milliseconds(1))
        probe.harness.run(timeLimit: .seconds(1)) { probe.harness.closedEvents.contains { $0.0 == .server } }
        XCTAssertEqual(server.keyUpdateCounts.peer, 1)
        assertTransportClose(probe.harness.closedEvents.first { $0.0 == .server }?.1, [.keyUpdateError])
        assertTransportClose(probe.closeReason(of: .client), [.keyUpdateError], by: .peer)
    }

    func testSecondUpdateAfterTheFirstIsAcknowledgedIsAccepted() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        let server = try probe.connection(.server)
        let current = try XCTUnwrap(client.space(.application).localKeys)
        let next = try current.makeNextKeyPhase()
        let afterNext = try next.makeNextKeyPhase()
        let first = reservePacketNumbers(2, of: client)
        let phase = client.keyPhase
        let update = try craftProtectedOneRTTPacket(
            from: client, keys: next, keyPhase: !phase, packetNumber: first, payload: [0x01])
        probe.network.inject(update, to: .server, delay: .milliseconds(1))
        XCTAssertTrue(probe.harness.run(timeLimit: .seconds(1)) {
            server.keyUpdateCounts.peer == 1 && server.keyUpdate.unacknowledgedPeerUpdate == nil
        })
        let secondUpdate = try craftProtectedOneRTTPacket(
            from: client, keys: afterNext, keyPhase: phase, packetNumber: first + 1, payload: [0x01])
        probe.network.inject(secondUpdate, to: .server, delay: .milliseconds(1))
        probe.harness.run(timeLimit: .milliseconds(100)) { server.keyUpdateCounts.peer == 2 }
        XCTAssertEqual(server.keyUpdateCounts.peer, 2)
        XCTAssertFalse(probe.harness.closedEvents.contains { $0.0 == .server })
    }

    func testAckOfNewPhasePacketUnderOldKeysClosesWithKeyUpdateError() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        let server = try probe.connection(.server)
        let current = try XCTUnwrap(client.space(.application).localKeys)
        let next = try current.makeNextKeyPhase()
        let first = reservePacketNumbers(2, of: client)
        let phase = client.keyPhase
        // The client updates (PING under the next keys); the server follows and sends under its new keys.
        let update = try craftProtectedOneRTTPacket(
            from: client, keys: next, keyPhase: !phase, packetNumber: first + 1, payload: [0x01])
        probe.network.inject(update, to: .server, delay: .milliseconds(1))
        XCTAssertTrue(probe.harness.run(timeLimit: .seconds(1)) {
            server.keyPhase != phase && server.keyUpdate.firstPacketInPhase != nil
        })
        let newPhasePacket = try XCTUnwrap(server.keyUpdate.firstPacketInPhase)
        // An older-numbered packet under the old keys acknowledges that new-phase packet (RFC 9001 §6.2).
        let ack: [UInt8] = [0x02] + quicVarint(newPhasePacket) + quicVarint(0) + quicVarint(0) + quicVarint(0)
        let stale = try craftProtectedOneRTTPacket(
            from: client, keys: current, keyPhase: phase, packetNumber: first, payload: ack)
        probe.network.inject(stale, to: .server, delay: .milliseconds(1))
        probe.harness.run(timeLimit: .seconds(1)) { probe.harness.closedEvents.contains { $0.0 == .server } }
        assertTransportClose(probe.harness.closedEvents.first { $0.0 == .server }?.1, [.keyUpdateError])
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Outages and address changes in the middle of a connection (issue 3): a 5 s blackhole, a lost handshake,
/// a NAT rebinding.
final class ScenarioOutageTests: XCTestCase {
    func testFiveSecondBlackholeMidTransfer() throws {
        var blackholeStart = Instant.zero
        let outcome = try Scenario.bulkTransfer(
            upload: 512 << 10, download: 1 << 20, seed: 301,
            midTransfer: { network in
                blackholeStart = network.now
                network.addBlackhole(from: network.now, for: .seconds(5))
            })
        XCTAssertGreaterThan(blackholeStart, .zero)
        XCTAssertGreaterThan(outcome.transferTime, .seconds(5), "the outage really stopped the transfer")
        XCTAssertGreaterThan(outcome.network.datagramsDropped[.server] ?? 0, 0)
        XCTAssertGreaterThan(outcome.network.datagramsDropped[.client] ?? 0, 0)
        // PTO backoff must not leave the link idle for long after it comes back (RFC 9002 §6.2.1).
        XCTAssertLessThan(outcome.transferTime, .seconds(20))
    }

    func testEveryInitialAndHandshakePacketLostForOneSecond() throws {
        var sentLongHeaders: [SimulatedNetwork.Role: Int] = [:]
        let outcome = try Scenario.bulkTransfer(
            upload: 256 << 10, download: 256 << 10, seed: 302,
            prepare: { network in
                network.dropLongHeaderPackets(until: network.now + .seconds(1))
                network.onDatagram = { role, bytes in
                    if let first = bytes.first, first & 0x80 != 0 { sentLongHeaders[role, default: 0] += 1 }
                }
            })
        XCTAssertGreaterThanOrEqual(outcome.handshakeTime, .seconds(1))
        XCTAssertLessThan(outcome.handshakeTime, .seconds(10))
        XCTAssertGreaterThanOrEqual(outcome.network.datagramsDropped[.client] ?? 0, 2, "Initials retransmitted")
        XCTAssertGreaterThan(sentLongHeaders[.server] ?? 0, 0)
    }

    func testServerHandshakeFlightLostForOneSecond() throws {
        // Only the server's long-header packets are lost: the client's Initial arrives, so the server must
        // retransmit its flight on its own PTO while anti-amplification limits it (RFC 9002 §6.2.2.1).
        let outcome = try Scenario.bulkTransfer(
            upload: 64 << 10, download: 256 << 10, seed: 303,
            prepare: { network in
                let deadline = network.now + .seconds(1)
                network.dropRule = { role, bytes, now in
                    role == .server && now < deadline && (bytes.first ?? 0) & 0x80 != 0
                }
            })
        XCTAssertGreaterThanOrEqual(outcome.handshakeTime, .seconds(1))
        XCTAssertGreaterThan(outcome.network.datagramsDropped[.server] ?? 0, 0)
    }

    func testNATRebindingMidTransfer() throws {
        let rebound = try XCTUnwrap(NetworkAddress(ipBytes: [10, 0, 0, 1], port: 50_123))
        let outcome = try Scenario.bulkTransfer(
            upload: 256 << 10, download: 1 << 20, seed: 304,
            midTransfer: { network in network.rebindClient(to: rebound) })
        XCTAssertEqual(outcome.serverSeesClientAt, rebound, "the server follows the client to its new address")
    }

    func testNATRebindingToNewIPMidTransfer() throws {
        let rebound = try XCTUnwrap(NetworkAddress(ipBytes: [192, 0, 2, 77], port: 4433))
        let outcome = try Scenario.bulkTransfer(
            upload: 256 << 10, download: 1 << 20, conditions: LinkConditions(lossRate: 0.01), seed: 305,
            midTransfer: { network in network.rebindClient(to: rebound) })
        XCTAssertEqual(outcome.serverSeesClientAt, rebound)
    }
}

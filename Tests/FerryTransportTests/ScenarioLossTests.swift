import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Bulk transfers both ways through random loss on both directions (issue 3: 1 %, 10 % and 30 %), seeded so
/// every run is the same run.
final class ScenarioLossTests: XCTestCase {
    func testOnePercentLossBothWays() throws {
        let outcome = try Scenario.bulkTransfer(
            upload: 1 << 20, download: 1 << 20, conditions: LinkConditions(lossRate: 0.01), seed: 101)
        XCTAssertGreaterThan(outcome.network.datagramsDropped[.client] ?? 0, 0)
        XCTAssertGreaterThan(outcome.network.datagramsDropped[.server] ?? 0, 0)
        XCTAssertGreaterThan(outcome.serverStats.packetsLost, 0, "the sender detected and repaired losses")
    }

    func testTenPercentLossBothWays() throws {
        let outcome = try Scenario.bulkTransfer(
            upload: 512 << 10, download: 512 << 10, conditions: LinkConditions(lossRate: 0.10), seed: 110)
        XCTAssertGreaterThan(outcome.serverStats.packetsLost, 20)
        XCTAssertGreaterThan(outcome.clientStats.packetsLost, 20)
    }

    func testThirtyPercentLossBothWays() throws {
        // Three in ten datagrams lost each way, handshake included: slow, but it must finish intact.
        let outcome = try Scenario.bulkTransfer(
            upload: 128 << 10, download: 128 << 10, conditions: LinkConditions(lossRate: 0.30), seed: 130,
            timeLimit: .seconds(300))
        XCTAssertGreaterThan(outcome.serverStats.packetsLost, 20)
        XCTAssertGreaterThan(outcome.clientStats.packetsLost, 20)
    }

    func testHeavyLossOnTheAckPathOnly() throws {
        // The server's data arrives intact, but a quarter of the client's ACKs vanish: the sender must not
        // mistake missing ACKs for a broken path (RFC 9002 §6.1: later ACKs cover earlier ones).
        var conditions = LinkConditions()
        conditions.lossRate = 0.25
        let outcome = try Scenario.bulkTransfer(
            upload: 16 << 10, download: 2 << 20, seed: 140,
            prepare: { network in network.clientToServer = conditions })
        XCTAssertGreaterThan(outcome.network.datagramsDropped[.client] ?? 0, 50)
        XCTAssertEqual(outcome.network.datagramsDropped[.server] ?? 0, 0)
        XCTAssertLessThan(outcome.transferTime, .seconds(5))
    }

    func testHeavyLossOnTheDataPathOnly() throws {
        var conditions = LinkConditions()
        conditions.lossRate = 0.2
        let outcome = try Scenario.bulkTransfer(
            upload: 16 << 10, download: 1 << 20, seed: 150,
            prepare: { network in network.serverToClient = conditions })
        XCTAssertEqual(outcome.network.datagramsDropped[.client] ?? 0, 0)
        XCTAssertGreaterThan(outcome.serverStats.packetsLost, 50)
    }

    func testLossRunsAreReproducible() throws {
        let first = try Scenario.bulkTransfer(
            upload: 64 << 10, download: 256 << 10, conditions: LinkConditions(lossRate: 0.05), seed: 42)
        let second = try Scenario.bulkTransfer(
            upload: 64 << 10, download: 256 << 10, conditions: LinkConditions(lossRate: 0.05), seed: 42)
        XCTAssertEqual(first.transferTime, second.transferTime, "same seed, same run")
        XCTAssertEqual(first.network.datagramsSent, second.network.datagramsSent)
        XCTAssertEqual(first.network.datagramsDropped, second.network.datagramsDropped)
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Bulk transfers both ways through reordering, duplication, corruption and a long round trip (issue 3).
final class ScenarioImpairmentTests: XCTestCase {
    func testReordering() throws {
        // A fifth of all datagrams arrive 25 ms late, well past later ones on a 10 ms link.
        let outcome = try Scenario.bulkTransfer(
            upload: 1 << 20, download: 1 << 20,
            conditions: LinkConditions(reorderRate: 0.2, reorderDelay: .milliseconds(25)), seed: 201)
        XCTAssertGreaterThan(outcome.network.datagramsReordered[.server] ?? 0, 100)
        XCTAssertGreaterThan(outcome.network.datagramsReordered[.client] ?? 0, 20)
    }

    func testDuplication() throws {
        let outcome = try Scenario.bulkTransfer(
            upload: 1 << 20, download: 1 << 20, conditions: LinkConditions(duplicateRate: 0.2), seed: 202)
        XCTAssertGreaterThan(outcome.network.datagramsDuplicated[.server] ?? 0, 100)
        XCTAssertGreaterThan(outcome.network.datagramsDuplicated[.client] ?? 0, 20)
    }

    func testCorruptionIsDetectedAndDropped() throws {
        // One datagram in twenty has a byte flipped: packet protection must reject every one of them (RFC 9001
        // §5.5) and the connection must carry on as if they were lost.
        let outcome = try Scenario.bulkTransfer(
            upload: 512 << 10, download: 512 << 10, conditions: LinkConditions(corruptRate: 0.05), seed: 203)
        let network = outcome.network
        let corrupted = (network.datagramsCorrupted[.client] ?? 0) + (network.datagramsCorrupted[.server] ?? 0)
        let rejected = Int(outcome.clientStats.packetsDropped + outcome.serverStats.packetsDropped
            + network.client.droppedDatagrams + network.server.droppedDatagrams)
        XCTAssertGreaterThan(corrupted, 20)
        XCTAssertGreaterThanOrEqual(rejected, corrupted, "every corrupted datagram is dropped, none accepted")
    }

    func testTwoHundredMillisecondRoundTrip() throws {
        let outcome = try Scenario.bulkTransfer(
            upload: 1 << 20, download: 1 << 20, conditions: LinkConditions(oneWayDelay: .milliseconds(100)),
            seed: 204)
        XCTAssertGreaterThanOrEqual(outcome.clientStats.minRTT, .milliseconds(200))
        XCTAssertLessThan(outcome.clientStats.minRTT, .milliseconds(230))
        XCTAssertGreaterThanOrEqual(outcome.handshakeTime, .milliseconds(200))
    }

    func testEverythingAtOnce() throws {
        let conditions = LinkConditions(
            oneWayDelay: .milliseconds(40), lossRate: 0.03, reorderRate: 0.05, reorderDelay: .milliseconds(30),
            duplicateRate: 0.03, corruptRate: 0.02)
        _ = try Scenario.bulkTransfer(upload: 512 << 10, download: 512 << 10, conditions: conditions, seed: 205)
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// NO_VIABLE_PATH (RFC 9000 §14, §20.1): a path that cannot carry 1200-byte datagrams cannot carry QUIC.
final class NoViablePathTests: XCTestCase {
    func testLocalPathMTUBelowTheMinimumClosesWithNoViablePath() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        client.handleLocalPathMTU(1000, now: probe.network.now)
        probe.harness.run(timeLimit: .seconds(1)) { probe.harness.closedEvents.contains { $0.0 == .client } }
        assertTransportClose(probe.harness.closedEvents.first { $0.0 == .client }?.1, [.noViablePath])
        assertTransportClose(probe.closeReason(of: .server), [.noViablePath], by: .peer)
    }

    func testLocalPathMTUOfTheMinimumKeepsTheConnection() throws {
        let probe = try ViolationProbe()
        let server = try probe.connection(.server)
        server.handleLocalPathMTU(MTUDiscovery.baseMTU, now: probe.network.now)
        probe.harness.run(timeLimit: .seconds(1)) { !probe.harness.closedEvents.isEmpty }
        XCTAssertTrue(probe.harness.closedEvents.isEmpty)
        XCTAssertFalse(server.isClosed)
    }
}

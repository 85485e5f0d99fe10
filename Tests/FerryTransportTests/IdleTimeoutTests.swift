import FerryTestSupport
import XCTest

@testable import FerryTransport

/// The idle timeout (RFC 9000 §10.1): the minimum of both sides' non-zero max_idle_timeout, and never less than
/// three probe timeouts, so a short timeout on a slow path does not end a live connection.
final class IdleTimeoutTests: XCTestCase {
    func testShortIdleTimeoutIsRaisedToThreeProbeTimeouts() throws {
        var transport = TransportConfig()
        transport.maxIdleTimeout = .milliseconds(50)
        var conditions = LinkConditions()
        conditions.oneWayDelay = .milliseconds(100)
        let network = SimulatedNetwork(transport: transport, conditions: conditions)
        let harness = StreamHarness(network: network)
        // A 200 ms round trip outlasts a 50 ms timeout: the handshake itself needs the 3×PTO floor.
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let threePTOs = client.recovery.rtt.probeTimeoutBase * 3
        XCTAssertGreaterThan(threePTOs, .milliseconds(600), "PTO exceeds the 200 ms round trip")
        let established = network.now
        XCTAssertTrue(harness.run(timeLimit: .seconds(20)) { harness.closedEvents.count == 2 })
        XCTAssertTrue(harness.closedEvents.allSatisfy { $0.1 == .idleTimeout })
        let elapsed = network.now - established
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(600), "not the raw 50 ms")
        XCTAssertLessThan(elapsed, threePTOs * 2)
    }

    func testZeroOnOneSideUsesTheOtherSidesTimeout() throws {
        var clientTransport = TransportConfig()
        clientTransport.maxIdleTimeout = .zero
        var serverTransport = TransportConfig()
        serverTransport.maxIdleTimeout = .seconds(2)
        let network = SimulatedNetwork(transport: clientTransport, serverTransport: serverTransport)
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        XCTAssertEqual(network.client.connection(handle)?.idleTimeout, .seconds(2), "0 means no limit (§18.2)")
        let established = network.now
        XCTAssertTrue(harness.run(timeLimit: .seconds(20)) { harness.closedEvents.count == 2 })
        XCTAssertTrue(harness.closedEvents.allSatisfy { $0.1 == .idleTimeout })
        let elapsed = network.now - established
        XCTAssertGreaterThanOrEqual(elapsed, .seconds(2))
        XCTAssertLessThan(elapsed, .seconds(3))
    }
}

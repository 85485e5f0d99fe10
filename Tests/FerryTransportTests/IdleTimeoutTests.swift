import FerryTestSupport
import XCTest

@testable import FerryTransport

/// The idle timeout (RFC 9000 §10.1): the minimum of both sides' non-zero max_idle_timeout, and never less than
/// three probe timeouts, so a short timeout on a slow path does not end a live connection.
final class IdleTimeoutTests: XCTestCase {
    /// Establishes a connection with these idle timeouts, lets it go idle, and returns how long after the
    /// handshake both sides closed (each with `idleTimeout`) and the client connection.
    private func idleLifetime(
        client: Duration, server: Duration, oneWayDelay: Duration = .milliseconds(10),
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> (elapsed: Duration, client: TransportConnection) {
        var clientTransport = TransportConfig()
        clientTransport.maxIdleTimeout = client
        var serverTransport = TransportConfig()
        serverTransport.maxIdleTimeout = server
        var conditions = LinkConditions()
        conditions.oneWayDelay = oneWayDelay
        let network = SimulatedNetwork(transport: clientTransport, serverTransport: serverTransport, conditions: conditions)
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let connection = try XCTUnwrap(network.client.connection(handle), file: file, line: line)
        let established = network.now
        XCTAssertTrue(harness.run(timeLimit: .seconds(20)) { harness.closedEvents.count == 2 }, file: file, line: line)
        XCTAssertTrue(harness.closedEvents.allSatisfy { $0.1 == .idleTimeout }, file: file, line: line)
        return (network.now - established, connection)
    }

    func testIdleTimeoutUsesMinimumOfBothSides() throws {
        let (elapsed, _) = try idleLifetime(client: .seconds(10), server: .seconds(3))
        XCTAssertGreaterThanOrEqual(elapsed, .seconds(3))
        XCTAssertLessThan(elapsed, .seconds(5))
    }

    func testShortIdleTimeoutIsRaisedToThreeProbeTimeouts() throws {
        // A 200 ms round trip outlasts a 50 ms timeout: the handshake itself needs the 3×PTO floor.
        let (elapsed, client) = try idleLifetime(
            client: .milliseconds(50), server: .milliseconds(50), oneWayDelay: .milliseconds(100))
        let threePTOs = client.recovery.rtt.probeTimeoutBase * 3
        XCTAssertGreaterThan(threePTOs, .milliseconds(600), "PTO exceeds the 200 ms round trip")
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(600), "not the raw 50 ms")
        XCTAssertLessThan(elapsed, threePTOs * 2)
    }

    func testZeroOnOneSideUsesTheOtherSidesTimeout() throws {
        let (elapsed, client) = try idleLifetime(client: .zero, server: .seconds(2))
        XCTAssertEqual(client.idleTimeout, .seconds(2), "0 means no limit (§18.2)")
        XCTAssertGreaterThanOrEqual(elapsed, .seconds(2))
        XCTAssertLessThan(elapsed, .seconds(3))
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// The closing and draining states (RFC 9000 §10.2).
final class CloseStateTests: XCTestCase {
    func testDrainingEndpointSendsNothing() throws {
        let network = SimulatedNetwork()
        var serverDatagrams = 0
        var lastClientDatagram: [UInt8]?
        network.onDatagram = { role, bytes in
            if role == .server { serverDatagrams += 1 } else { lastClientDatagram = bytes }
        }
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        harness.send(patternBytes(count: 5000), on: stream, role: .client, handle: handle)
        harness.run(timeLimit: .milliseconds(200)) { false }
        let replay = try XCTUnwrap(lastClientDatagram)

        client.close(errorCode: 7, reason: "bye", now: network.now)
        XCTAssertTrue(harness.run(timeLimit: .seconds(2)) { harness.closedEvents.contains { $0.0 == .server } })
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertEqual(server.state, .draining)
        let sentBefore = serverDatagrams
        // "An endpoint that is in the draining state MUST NOT send any packets" (§10.2.2), whatever arrives.
        for _ in 0..<5 { network.inject(replay, to: .server) }
        harness.run(timeLimit: .milliseconds(50)) { false }
        XCTAssertEqual(server.state, .draining)
        XCTAssertEqual(serverDatagrams, sentBefore, "nothing sent while draining")
    }
}

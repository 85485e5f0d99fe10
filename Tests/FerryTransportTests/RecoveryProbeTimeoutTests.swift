import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Probe timeouts on a connection (RFC 9002 §6.2.4): probes carry data, not just PING.
final class RecoveryProbeTimeoutTests: XCTestCase {
    func testProbesRetransmitUnacknowledgedDataWhenNothingNewIsQueued() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertTrue(harness.run(timeLimit: .seconds(1)) { client.stats.pathMTU == 1452 })
        // Sizes of the client's datagrams sent after a PTO fired (the probes); a PING-only probe is tiny.
        var probes: [Int] = []
        network.onDatagram = { role, bytes in
            if role == .client && client.recovery.ptoCount > 0 { probes.append(bytes.count) }
        }
        network.clientToServer.lossRate = 1
        let stream = try XCTUnwrap(client.openStream(bidirectional: false))
        harness.send(patternBytes(count: 3000), on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(3)) { client.recovery.ptoCount >= 3 })
        XCTAssertGreaterThanOrEqual(probes.count, 4)
        XCTAssertTrue(probes.allSatisfy { $0 > 300 }, "probes carry stream data: \(probes)")
        network.clientToServer.lossRate = 0
        XCTAssertTrue(harness.run(timeLimit: .seconds(10)) { harness.finishedStreams[.server]?.contains(stream) ?? false })
        XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: 3000))
    }
}

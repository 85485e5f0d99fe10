import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Measures the transport's own cost (null packet protection, no link delay) for a bulk transfer, printing
/// MiB/s. Run in release for meaningful numbers: `swift build -c release` then the test binary.
final class TransportBenchmarkTests: XCTestCase {
    func testBulkTransferThroughput() throws {
        #if DEBUG
        let size = 2 << 20  // Debug Swift is slow at byte crunching; the release run uses 64 MiB.
        #else
        let size = 64 << 20
        #endif
        let crypto = (TestCryptoProvider(identitySeed: 1, usesNullProtection: true),
                      TestCryptoProvider(identitySeed: 2, usesNullProtection: true))
        let network = SimulatedNetwork(
            clientConfig: EndpointConfig(crypto: crypto.0),
            serverConfig: EndpointConfig(crypto: crypto.1),
            conditions: LinkConditions(oneWayDelay: .microseconds(100), mtu: 1500))
        let harness = StreamHarness(network: network)
        var receivedCount = 0
        harness.onStreamFinished = { role, _, _, bytes in
            if role == .server { receivedCount = bytes.count }
        }
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        let payload = patternBytes(count: size)
        let start = ContinuousClock.now
        harness.send(payload, on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(600)) { receivedCount == size })
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("bulk transfer: \(size >> 20) MiB in \(seconds) s wall = \(Double(size) / 1_048_576 / seconds) MiB/s;"
            + " virtual \(network.now); client stats \(client.stats)")
    }
}

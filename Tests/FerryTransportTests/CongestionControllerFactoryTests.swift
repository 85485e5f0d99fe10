import FerryTestSupport
import XCTest

@testable import FerryTransport

/// A user-provided congestion controller (`CongestionControllerFactory`) drives a real connection.
final class CongestionControllerFactoryTests: XCTestCase {
    /// Makes NewReno controllers and remembers each one it made.
    final class RecordingFactory: CongestionControllerFactory, @unchecked Sendable {
        private let lock = NSLock()
        private var made: [ObjectIdentifier] = []
        var count: Int { lock.withLock { made.count } }

        func made(_ controller: any CongestionController) -> Bool {
            lock.withLock { made.contains(ObjectIdentifier(controller)) }
        }

        func makeCongestionController(maxDatagramSize: Int) -> any CongestionController {
            let controller = NewReno(maxDatagramSize: maxDatagramSize)
            lock.withLock { made.append(ObjectIdentifier(controller)) }
            return controller
        }
    }

    func testACustomFactoryMakesEveryConnectionsController() throws {
        let factory = RecordingFactory()
        var transport = TransportConfig()
        transport.congestionControl = factory
        let network = SimulatedNetwork(transport: transport)
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertTrue(factory.made(client.recovery.congestionController))
        XCTAssertGreaterThanOrEqual(factory.count, 2, "one per connection, client and server")
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        _ = try client.write(stream, patternBytes(count: 100_000))
        try client.finish(stream)
        XCTAssertTrue(harness.run(timeLimit: .seconds(10)) { harness.finishedStreams[.server]?.contains(stream) ?? false })
        XCTAssertGreaterThan(client.recovery.congestionController.congestionWindow, 0)
    }

    func testBuiltInsAreStillSpelledAsBefore() {
        var transport = TransportConfig()
        transport.congestionControl = .newReno
        XCTAssertTrue(transport.congestionControl.makeCongestionController(maxDatagramSize: 1200) is NewReno)
        transport.congestionControl = .cubic
        XCTAssertTrue(transport.congestionControl.makeCongestionController(maxDatagramSize: 1200) is Cubic)
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Receive-window auto-tuning (issue 3 §3, RFC 9000 §4.2) and stream-count credit (RFC 9000 §4.6).
final class FlowControlAutoTuningTests: XCTestCase {
    private let start = Instant(nanoseconds: 1_000_000_000)

    func testWindowDoublesWhenUpdatesComeWithinTwoRoundTrips() {
        var window = ReceiveWindow(initialLimit: 1000, maximumWindowSize: 3000)
        let rtt = Duration.milliseconds(100)
        _ = window.recordReceived(upTo: 600)
        window.recordConsumed(600)
        XCTAssertEqual(window.makeUpdate(now: start, smoothedRTT: rtt), 1600, "first update: no history yet")
        _ = window.recordReceived(upTo: 1200)
        window.recordConsumed(600)
        XCTAssertEqual(window.makeUpdate(now: start + .milliseconds(150), smoothedRTT: rtt), 3200)
        XCTAssertEqual(window.windowSize, 2000)
        _ = window.recordReceived(upTo: 2400)
        window.recordConsumed(1200)
        XCTAssertEqual(window.makeUpdate(now: start + .milliseconds(300), smoothedRTT: rtt), 5400)
        XCTAssertEqual(window.windowSize, 3000, "capped at the maximum")
    }

    func testWindowStaysWhenUpdatesAreSpacedOut() {
        var window = ReceiveWindow(initialLimit: 1000, maximumWindowSize: 8000)
        let rtt = Duration.milliseconds(10)
        for round in 1...5 {
            window.recordConsumed(600)
            _ = window.makeUpdate(now: start + .milliseconds(Int64(round) * 50), smoothedRTT: rtt)
        }
        XCTAssertEqual(window.windowSize, 1000)
        // A retried write in the same instant does not count as a fast update.
        _ = window.makeUpdate(now: start + .milliseconds(250), smoothedRTT: rtt)
        XCTAssertEqual(window.windowSize, 1000)
    }

    func testWindowsGrowWithTheBandwidthDelayProduct() throws {
        var transport = TransportConfig()
        transport.initialMaxStreamData = 64 << 10
        transport.initialMaxData = 128 << 10
        transport.maxStreamWindow = 4 << 20
        transport.maxConnectionWindow = 8 << 20
        // 200 ms RTT: a fixed 64 KiB stream window would allow 320 KiB/s, 12 s for this transfer.
        let network = SimulatedNetwork(transport: transport, conditions: LinkConditions(oneWayDelay: .milliseconds(100)))
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(client.openStream(bidirectional: false))
        let size = 4 << 20
        let begin = network.now
        harness.send(patternBytes(count: size), on: stream, role: .client, handle: handle)
        var largestStreamWindow: UInt64 = 0
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) {
            if let window = network.serverConnection?.streams.receiveWindow(of: stream)?.windowSize {
                largestStreamWindow = max(largestStreamWindow, window)
            }
            return harness.finishedStreams[.server]?.contains(stream) ?? false
        })
        XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: size))
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertGreaterThan(largestStreamWindow, 64 << 10)
        XCTAssertLessThanOrEqual(largestStreamWindow, 4 << 20)
        let connectionWindow = server.streams.connectionReceiveWindow.windowSize
        XCTAssertGreaterThan(connectionWindow, 128 << 10)
        XCTAssertLessThanOrEqual(connectionWindow, 8 << 20)
        XCTAssertLessThan(network.now - begin, .seconds(6), "tuned windows keep the pipe full")
    }

    func testStreamCreditIsReturnedAsStreamsClose() throws {
        var transport = TransportConfig()
        transport.maxConcurrentUnidirectionalStreams = 3
        let network = SimulatedNetwork(transport: transport)
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        var opened: [StreamID] = []
        XCTAssertTrue(harness.run(timeLimit: .seconds(20)) {
            while opened.count < 12, let stream = client.openStream(bidirectional: false) {
                opened.append(stream)
                harness.send(patternBytes(count: 2000, offset: opened.count), on: stream, role: .client, handle: handle)
            }
            return opened.count == 12 && opened.allSatisfy { harness.finishedStreams[.server]?.contains($0) ?? false }
        })
        for (index, stream) in opened.enumerated() {
            XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: 2000, offset: index + 1))
        }
        XCTAssertGreaterThanOrEqual(client.streams.peerMaxStreams(bidirectional: false), 12)
        XCTAssertTrue(network.events(of: .client).contains(.streamsAvailable(bidirectional: false)))
    }
}

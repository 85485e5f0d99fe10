import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Stream send priorities (issue 3 §4): higher priorities go first while the congestion window is the limit, and
/// streams of equal priority share it round-robin. Slow start from the initial window makes the transfer last
/// many round trips, so the order in which the window is spent shows at the receiver.
final class StreamPriorityTests: XCTestCase {
    private let size = 300_000

    /// Starts two client streams with `priorities`, sends `size` bytes on each, and returns how much of each had
    /// arrived when the first of them finished.
    private func race(priorities: (Int, Int)) throws -> (first: Int, second: Int) {
        let network = SimulatedNetwork(conditions: LinkConditions(bandwidth: 4_000_000))
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let first = try XCTUnwrap(client.openStream(bidirectional: false))
        let second = try XCTUnwrap(client.openStream(bidirectional: false))
        try client.setPriority(first, priorities.0)
        try client.setPriority(second, priorities.1)
        XCTAssertEqual(client.priority(of: first), priorities.0)
        XCTAssertEqual(client.priority(of: second), priorities.1)
        harness.send(patternBytes(count: size), on: first, role: .client, handle: handle)
        harness.send(patternBytes(count: size, offset: 3), on: second, role: .client, handle: handle)
        func finished(_ stream: StreamID) -> Bool { harness.finishedStreams[.server]?.contains(stream) ?? false }
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) { finished(first) || finished(second) })
        let arrived = (harness.received[.server]?[first]?.count ?? 0, harness.received[.server]?[second]?.count ?? 0)
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) { finished(first) && finished(second) })
        XCTAssertEqual(harness.received[.server]?[first], patternBytes(count: size))
        XCTAssertEqual(harness.received[.server]?[second], patternBytes(count: size, offset: 3))
        XCTAssertTrue(harness.closedEvents.isEmpty)
        return arrived
    }

    func testHigherPriorityStreamIsSentFirst() throws {
        // The second stream was opened and written last, yet its data goes first.
        let arrived = try race(priorities: (0, 5))
        XCTAssertEqual(arrived.second, size)
        XCTAssertLessThan(arrived.first, size / 10, "the low-priority stream waited: \(arrived)")
    }

    func testNegativePriorityYieldsToTheDefault() throws {
        let arrived = try race(priorities: (-1, 0))
        XCTAssertEqual(arrived.second, size)
        XCTAssertLessThan(arrived.first, size / 10, "\(arrived)")
    }

    func testEqualPrioritiesShareFairly() throws {
        let arrived = try race(priorities: (7, 7))
        XCTAssertGreaterThan(min(arrived.first, arrived.second), size * 8 / 10, "\(arrived)")
    }

    func testPriorityChangeTakesEffectWhileQueued() throws {
        let network = SimulatedNetwork(conditions: LinkConditions(bandwidth: 4_000_000))
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let low = try XCTUnwrap(client.openStream(bidirectional: false))
        let high = try XCTUnwrap(client.openStream(bidirectional: false))
        harness.send(patternBytes(count: size), on: low, role: .client, handle: handle)
        harness.send(patternBytes(count: size), on: high, role: .client, handle: handle)
        // Both are queued at the default priority before the first priority is set.
        try client.setPriority(high, 2)
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) { harness.finishedStreams[.server]?.contains(high) ?? false })
        XCTAssertLessThan(harness.received[.server]?[low]?.count ?? 0, size / 5)
    }

    func testSetPriorityErrors() throws {
        let probe = try ViolationProbe()
        let client = try probe.connection(.client)
        XCTAssertThrowsError(try client.setPriority(StreamID(rawValue: 400), 1))
        XCTAssertNil(client.priority(of: StreamID(rawValue: 400)))
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        XCTAssertEqual(client.priority(of: stream), 0)
    }
}

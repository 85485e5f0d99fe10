import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Whole-transport stream transfers over the simulated network, checked byte for byte.
final class TransferTests: XCTestCase {
    /// Client uploads `upload` bytes on one bidi stream; the server answers with `download` bytes.
    func runTransfer(
        upload: Int, download: Int, conditions: LinkConditions = LinkConditions(), seed: UInt64 = 1,
        timeLimit: Duration = .seconds(120), file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let network = SimulatedNetwork(conditions: conditions, seed: seed)
        let harness = StreamHarness(network: network)
        harness.onStreamFinished = { role, handle, stream, bytes in
            guard role == .server else { return }
            XCTAssertEqual(bytes.count, upload, "server received", file: file, line: line)
            XCTAssertTrue(bytes == patternBytes(count: upload), "upload corrupted", file: file, line: line)
            harness.send(patternBytes(count: download), on: stream, role: .server, handle: handle)
        }
        let handle = try harness.establish(file: file, line: line)
        let connection = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(connection.openStream(bidirectional: true))
        harness.send(patternBytes(count: upload), on: stream, role: .client, handle: handle)
        let done = harness.run(timeLimit: timeLimit) {
            harness.finishedStreams[.client]?.contains(stream) ?? false
        }
        XCTAssertFalse(network.isLivelocked, "livelock", file: file, line: line)
        XCTAssertTrue(done, "transfer did not finish by \(network.now)", file: file, line: line)
        let received = harness.received[.client]?[stream] ?? []
        XCTAssertEqual(received.count, download, file: file, line: line)
        XCTAssertTrue(received == patternBytes(count: download), "download corrupted", file: file, line: line)
        XCTAssertTrue(harness.closedEvents.isEmpty, "unexpected close: \(harness.closedEvents)", file: file, line: line)
    }

    func testSmallRequestResponse() throws {
        try runTransfer(upload: 1000, download: 5000)
    }

    func testSeveralMiBEachWay() throws {
        try runTransfer(upload: 3 << 20, download: 3 << 20)
    }

    func testOnePercentLoss() throws {
        try runTransfer(upload: 1 << 20, download: 1 << 20, conditions: LinkConditions(lossRate: 0.01), seed: 7)
    }

    func testTenPercentLoss() throws {
        try runTransfer(upload: 256 << 10, download: 256 << 10, conditions: LinkConditions(lossRate: 0.10), seed: 9)
    }

    func testReorderingAndDuplication() throws {
        try runTransfer(
            upload: 512 << 10, download: 512 << 10,
            conditions: LinkConditions(reorderRate: 0.1, reorderDelay: .milliseconds(7), duplicateRate: 0.05), seed: 3)
    }

    func testCorruptedDatagramsAreDropped() throws {
        try runTransfer(upload: 256 << 10, download: 256 << 10, conditions: LinkConditions(corruptRate: 0.05), seed: 5)
    }

    func testManyConcurrentStreams() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        harness.onStreamFinished = { role, handle, stream, bytes in
            guard role == .server else { return }
            harness.send(bytes, on: stream, role: .server, handle: handle)  // echo
        }
        let handle = try harness.establish()
        let connection = try XCTUnwrap(network.client.connection(handle))
        var expected: [StreamID: [UInt8]] = [:]
        for index in 0..<200 {
            let stream = try XCTUnwrap(connection.openStream(bidirectional: true))
            let payload = patternBytes(count: 100 + index * 37, offset: index)
            expected[stream] = payload
            harness.send(payload, on: stream, role: .client, handle: handle)
        }
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) {
            harness.finishedStreams[.client]?.count == expected.count
        })
        for (stream, payload) in expected {
            XCTAssertEqual(harness.received[.client]?[stream], payload)
        }
    }
}

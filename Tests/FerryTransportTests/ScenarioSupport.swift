import FerryTestSupport
import XCTest

@testable import FerryTransport

/// What one bulk-transfer scenario produced, for assertions beyond completion and integrity.
struct ScenarioOutcome {
    /// The network, with its drop/corrupt/duplicate counters.
    let network: SimulatedNetwork
    /// Virtual time from opening the stream to the last response byte (or the last request byte when the
    /// response is empty).
    let transferTime: Duration
    /// Virtual time the handshake took.
    let handshakeTime: Duration
    /// Both connections' counters at the end.
    let clientStats: ConnectionStats
    let serverStats: ConnectionStats
    /// The server connection's view of the client's address at the end.
    let serverSeesClientAt: NetworkAddress?

    /// Response goodput in bytes per virtual second.
    func goodput(bytes: Int) -> Double {
        let seconds = Double(transferTime.nanosecondsClamped) / 1e9
        return seconds > 0 ? Double(bytes) / seconds : 0
    }
}

/// Seeded, reproducible bulk transfers over `SimulatedNetwork` (issue 3 "Done when"): the client uploads
/// `upload` pattern bytes on one bidirectional stream and finishes it; the server checks them and answers
/// with `download` pattern bytes. Every byte is checked both ways, the connection must stay open, and the
/// run must finish within `timeLimit` of virtual time.
enum Scenario {
    /// Runs one transfer. `prepare` runs before the handshake (impair the handshake there); `midTransfer` runs
    /// once, when half of all payload bytes have arrived (blackholes, rebinding).
    static func bulkTransfer(
        upload: Int, download: Int, conditions: LinkConditions = LinkConditions(), seed: UInt64,
        transport: TransportConfig = TransportConfig(), timeLimit: Duration = .seconds(120),
        prepare: (SimulatedNetwork) -> Void = { _ in },
        midTransfer: ((SimulatedNetwork) -> Void)? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> ScenarioOutcome {
        let network = SimulatedNetwork(transport: transport, conditions: conditions, seed: seed)
        let harness = StreamHarness(network: network)
        var uploadIntact = false
        harness.onStreamFinished = { role, handle, stream, bytes in
            guard role == .server else { return }
            XCTAssertEqual(bytes.count, upload, "server received", file: file, line: line)
            uploadIntact = bytes == patternBytes(count: upload)
            XCTAssertTrue(uploadIntact, "upload corrupted", file: file, line: line)
            harness.send(patternBytes(count: download), on: stream, role: .server, handle: handle)
        }
        prepare(network)
        let handshakeStart = network.now
        let handle = try network.connect()
        let established = harness.run(timeLimit: timeLimit) {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }
        XCTAssertTrue(established, "handshake did not complete by \(network.now); closes: \(harness.closedEvents)",
                      file: file, line: line)
        let handshakeTime = network.now - handshakeStart
        let connection = try XCTUnwrap(network.client.connection(handle), file: file, line: line)
        let stream = try XCTUnwrap(connection.openStream(bidirectional: true), file: file, line: line)
        let start = network.now
        harness.send(patternBytes(count: upload), on: stream, role: .client, handle: handle)
        let half = (upload + download) / 2
        var midTransferDone = midTransfer == nil
        let done = harness.run(timeLimit: timeLimit) {
            if !midTransferDone {
                let arrived = (harness.received[.server]?[stream]?.count ?? 0)
                    + (harness.received[.client]?[stream]?.count ?? 0)
                if arrived >= half {
                    midTransferDone = true
                    midTransfer?(network)
                }
            }
            return harness.finishedStreams[.client]?.contains(stream) ?? false
                || !harness.closedEvents.isEmpty
        }
        let transferTime = network.now - start
        XCTAssertFalse(network.isLivelocked, "livelock at \(network.now)", file: file, line: line)
        XCTAssertTrue(done && harness.closedEvents.isEmpty,
                      "transfer did not finish by \(network.now); closes: \(harness.closedEvents)",
                      file: file, line: line)
        XCTAssertTrue(midTransferDone, "the mid-transfer event never ran", file: file, line: line)
        XCTAssertTrue(uploadIntact, "upload incomplete or corrupted", file: file, line: line)
        let received = harness.received[.client]?[stream] ?? []
        XCTAssertEqual(received.count, download, "client received", file: file, line: line)
        XCTAssertTrue(received == patternBytes(count: download), "download corrupted", file: file, line: line)
        let server = network.serverConnection
        print("scenario seed \(seed): \(upload) B up + \(download) B down in \(transferTime) virtual (handshake"
            + " \(handshakeTime)); datagrams sent client/server \(network.datagramsSent[.client] ?? 0)/"
            + "\(network.datagramsSent[.server] ?? 0), dropped by the network \(network.datagramsDropped[.client] ?? 0)/"
            + "\(network.datagramsDropped[.server] ?? 0), declared lost \(connection.stats.packetsLost)/"
            + "\(server?.stats.packetsLost ?? 0)")
        return ScenarioOutcome(
            network: network, transferTime: transferTime, handshakeTime: handshakeTime, clientStats: connection.stats,
            serverStats: server?.stats ?? ConnectionStats(), serverSeesClientAt: server?.remoteAddress)
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Per-path loss, RTT and congestion accounting across a migration (RFC 9000 §9.4, RFC 9002 §A): packets lost on
/// the path the connection left are charged to that path, not to the one selected when the loss is detected.
final class PathLossAccountingTests: XCTestCase {
    private func closedSnapshot(_ events: [TransportPathEvent], id: UInt64) -> PathSnapshot? {
        for event in events {
            if case .closed(let path) = event, path.id == id { return path }
        }
        return nil
    }

    func testClientMigrationChargesOldPathLossesToTheOldPath() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        let newLocal = NetworkAddress(ipBytes: [10, 0, 1, 1], port: 5000)!
        network.clientLocals.insert(newLocal)
        let payload = patternBytes(count: 400_000)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(10)) { (network.serverReceived[stream]?.count ?? 0) >= 100_000 })
        XCTAssertEqual(client.stats.packetsLost, 0, "a loss-free network so far")

        // The old network dies; the client keeps sending on it for a while, then moves.
        network.cutOff.insert(network.clientSocket)
        network.run(for: .milliseconds(200)) { (network.clientDropsFrom[network.clientSocket] ?? 0) > 5 }
        let droppedOnOldPath = network.clientDropsFrom[network.clientSocket] ?? 0
        XCTAssertGreaterThan(droppedOnOldPath, 3, "packets went out on the dead path")
        let oldMTU = client.maxDatagramSize
        XCTAssertGreaterThan(oldMTU, 1200, "PMTU discovery raised the old path's MTU")
        try client.migrate(to: newLocal, from: network.clientSocket, now: network.now)
        let newSlot = client.recovery.selectedPathSlot
        XCTAssertTrue(network.run(for: .seconds(30)) { network.serverFinished.contains(stream) }, "upload finished")
        XCTAssertEqual(network.serverReceived[stream], payload)
        network.run(for: .milliseconds(500))

        // Path 0 drained: its closed event counts exactly the datagrams the dead network swallowed.
        let events = network.pathEvents(of: network.client, handle)
        XCTAssertEqual(events.map(\.summary), ["opened 1", "selected 1", "closed 0"])
        let oldPath = try XCTUnwrap(closedSnapshot(events, id: 0))
        XCTAssertEqual(oldPath.packetsLost, UInt64(droppedOnOldPath))
        XCTAssertEqual(oldPath.mtu, oldMTU, "the MTU it had, not the new path's")
        XCTAssertEqual(network.clientDropsFrom[newLocal] ?? 0, 0)
        let newPath = try XCTUnwrap(client.paths.first { $0.id == 1 })
        XCTAssertEqual(newPath.packetsLost, 0, "nothing was lost on the new path")
        XCTAssertEqual(client.stats.packetsLost, UInt64(droppedOnOldPath), "every loss is on exactly one path")
        // The new path's controller never saw the old path's losses: still in slow start (RFC 9000 §9.4).
        XCTAssertEqual(client.recovery.congestionController.slowStartThreshold, .max)
        XCTAssertNil(client.recovery.pathRecovery(0), "the drained path's slot is released")
        XCTAssertEqual(client.recovery.pathRecovery(newSlot)?.outstandingPackets, client.recovery.outstandingPacketCount(in: .application))
        XCTAssertEqual(server.remoteAddress, newLocal)
    }

    func testNATRebindingChargesServerLossesToTheAbandonedPath() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        let rebound = NetworkAddress(ipBytes: [192, 0, 2, 7], port: 40_000)!
        let payload = patternBytes(count: 400_000)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(10)) { (network.serverReceived[stream]?.count ?? 0) >= 100_000 })
        // The NAT maps the client anew: the server's datagrams to the old address no longer arrive.
        network.nat[network.clientSocket] = rebound
        XCTAssertTrue(network.run(for: .seconds(30)) { network.serverFinished.contains(stream) }, "upload finished")
        XCTAssertEqual(network.serverReceived[stream], payload)
        network.run(for: .milliseconds(500))

        let droppedToOldAddress = network.serverDropsTo[network.clientSocket] ?? 0
        XCTAssertGreaterThan(droppedToOldAddress, 0, "the server sent to the old address after the rebinding")
        let events = network.pathEvents(of: network.server, serverHandle)
        XCTAssertEqual(events.map(\.summary), ["opened 1", "selected 1", "closed 0"])
        let oldPath = try XCTUnwrap(closedSnapshot(events, id: 0))
        XCTAssertEqual(oldPath.packetsLost, UInt64(droppedToOldAddress))
        XCTAssertEqual(server.paths.first?.packetsLost, 0)
        XCTAssertEqual(server.stats.packetsLost, UInt64(droppedToOldAddress))
    }

    func testFailedValidationChargesItsLossesToTheSpoofedPath() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        let spoofed = NetworkAddress(ipBytes: [203, 0, 113, 66], port: 999)!
        network.cutOff.insert(spoofed)
        let payload = patternBytes(count: 200_000)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(10)) { (network.serverReceived[stream]?.count ?? 0) >= 50_000 })
        // An off-path forwarder replays a fresh client packet from elsewhere: the server moves there, finds
        // nobody, and falls back (RFC 9000 §9.3.2). Everything it sent there is lost, and charged there.
        let forged = try XCTUnwrap(network.takePing(from: client))
        network.server.handle(datagram: forged, from: spoofed, now: network.now)
        XCTAssertEqual(server.remoteAddress, spoofed)
        XCTAssertTrue(network.run(for: .seconds(30)) { network.serverFinished.contains(stream) }, "upload finished")
        network.run(for: .seconds(4))

        XCTAssertEqual(server.remoteAddress, network.clientSocket, "back on the real path")
        let events = network.pathEvents(of: network.server, serverHandle)
        XCTAssertEqual(events.map(\.summary), ["opened 1", "selected 1", "selected 0", "closed 1"])
        let spoofedPath = try XCTUnwrap(closedSnapshot(events, id: 1))
        let dropped = network.serverDropsTo[spoofed] ?? 0
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertEqual(spoofedPath.packetsLost, UInt64(dropped))
        XCTAssertEqual(server.paths.first?.packetsLost, 0, "the real path lost nothing")
        XCTAssertEqual(server.stats.packetsLost, UInt64(dropped))
    }

    func testClosingReportsDrainingPathsClosed() throws {
        let network = PathTestNetwork()
        let (handle, _) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let deadLocal = NetworkAddress(ipBytes: [10, 0, 9, 9], port: 6000)!
        network.clientLocals.insert(deadLocal)
        network.cutOff.insert(deadLocal)
        let stream = try network.upload(patternBytes(count: 400_000), on: handle)
        XCTAssertTrue(network.run(for: .seconds(10)) { (network.serverReceived[stream]?.count ?? 0) >= 100_000 })
        try client.migrate(to: deadLocal, from: network.clientSocket, now: network.now)
        // Validation fails and the client falls back; what it sent on the dead path is still outstanding until
        // the old path's ACKs declare it lost, so path 1 drains in between.
        XCTAssertTrue(network.run(for: .seconds(10)) { !client.pathTable.draining.isEmpty }, "path 1 drains")
        XCTAssertEqual(client.paths.map(\.id), [0], "a draining path is no longer listed")
        client.close(errorCode: 0, reason: "done", now: network.now)
        XCTAssertTrue(client.pathTable.draining.isEmpty)
        let events = network.pathEvents(of: network.client, handle)
        XCTAssertEqual(events.map(\.summary), ["opened 1", "selected 1", "selected 0", "closed 1"])
    }
}

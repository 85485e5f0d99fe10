import FerryTestSupport
import XCTest

@testable import FerryTransport

/// NAT rebinding, client migration, path validation and fallback (RFC 9000 §8.2, §9).
final class PathMigrationTests: XCTestCase {
    private let uploadSize = 400_000

    private func serverConnection(_ network: PathTestNetwork, _ handle: ConnectionHandle) throws -> TransportConnection {
        try XCTUnwrap(network.server.connection(handle))
    }

    /// Runs an upload, calling `midTransfer` once a third has arrived; returns whether it completed intact.
    private func uploadAcross(
        _ network: PathTestNetwork, handle: ConnectionHandle, midTransfer: () throws -> Void
    ) throws -> StreamID {
        let payload = patternBytes(count: uploadSize)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(10)) { (network.serverReceived[stream]?.count ?? 0) >= uploadSize / 3 })
        try midTransfer()
        XCTAssertTrue(network.run(for: .seconds(30)) { network.serverFinished.contains(stream) }, "upload finished")
        XCTAssertEqual(network.serverReceived[stream], payload, "upload intact")
        return stream
    }

    func testNATRebindingMidTransferIsValidatedAndCompletes() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try serverConnection(network, serverHandle)
        XCTAssertEqual(network.pathEvents(of: network.server, serverHandle).map(\.summary), [])
        let rebound = NetworkAddress(ipBytes: [192, 0, 2, 7], port: 40_000)!
        var controllerBefore: (any CongestionController)?
        _ = try uploadAcross(network, handle: handle) {
            controllerBefore = server.recovery.congestionController
            network.nat[network.clientSocket] = rebound
        }
        XCTAssertEqual(server.remoteAddress, rebound)
        XCTAssertTrue(server.isAddressValidated)
        let paths = server.paths
        XCTAssertEqual(paths.count, 1, "the old path is closed once the new one validated")
        let selected = try XCTUnwrap(paths.first)
        XCTAssertEqual(selected.id, 1)
        XCTAssertTrue(selected.isSelected && selected.isValidated)
        XCTAssertGreaterThan(selected.bytesReceived, 0)
        XCTAssertGreaterThan(selected.datagramsSent, 0)
        XCTAssertFalse(server.recovery.congestionController === controllerBefore, "a new IP resets congestion state")
        XCTAssertEqual(
            network.pathEvents(of: network.server, serverHandle).map(\.summary), ["opened 1", "selected 1", "closed 0"])
        XCTAssertTrue(network.serverEvents.contains { $0.0 == serverHandle && $0.1 == .pathsChanged })
        // The client did not move: it reports no path change.
        XCTAssertEqual(network.pathEvents(of: network.client, handle).map(\.summary), [])
    }

    func testPortOnlyRebindingKeepsCongestionState() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try serverConnection(network, serverHandle)
        let rebound = NetworkAddress(ipBytes: [10, 0, 0, 1], port: 50_001)!
        var controllerBefore: (any CongestionController)?
        var rttBefore = Duration.zero
        _ = try uploadAcross(network, handle: handle) {
            controllerBefore = server.recovery.congestionController
            rttBefore = server.recovery.rtt.minRTT
            network.nat[network.clientSocket] = rebound
        }
        XCTAssertEqual(server.remoteAddress, rebound)
        XCTAssertTrue(server.recovery.congestionController === controllerBefore, "RFC 9000 §9.4: port-only change")
        XCTAssertEqual(server.recovery.rtt.minRTT, rttBefore)
    }

    func testClientMigrationValidatesAndRetiresOldConnectionID() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try serverConnection(network, serverHandle)
        let newLocal = NetworkAddress(ipBytes: [10, 0, 1, 1], port: 5000)!
        network.clientLocals.insert(newLocal)
        let oldSequence = client.peerConnectionIDs.active.sequenceNumber
        let oldConnectionID = client.destinationConnectionID
        XCTAssertNotNil(network.server.routes[oldConnectionID])
        _ = try uploadAcross(network, handle: handle) {
            try client.migrate(to: newLocal, from: network.clientSocket, now: network.now)
            XCTAssertNotEqual(client.destinationConnectionID, oldConnectionID, "a new connection ID on the new path")
            XCTAssertThrowsError(try client.migrate(to: newLocal, now: network.now)) { error in
                XCTAssertEqual(error as? MigrationError, .migrationInProgress)
            }
        }
        network.run(for: .milliseconds(200))
        let selected = try XCTUnwrap(client.paths.first { $0.isSelected })
        XCTAssertEqual(selected.localAddress, newLocal)
        XCTAssertTrue(selected.isValidated)
        XCTAssertEqual(client.paths.count, 1)
        XCTAssertEqual(
            network.pathEvents(of: network.client, handle).map(\.summary), ["opened 1", "selected 1", "closed 0"])
        XCTAssertGreaterThan(network.clientBytesFrom[newLocal] ?? 0, uploadSize / 2)
        XCTAssertEqual(server.remoteAddress, newLocal)
        // RFC 9000 §5.1.2, §9.5: the old ID is retired, the server stops routing it and issues a replacement.
        XCTAssertNil(server.localConnectionIDs.lookup(sequenceNumber: oldSequence))
        XCTAssertNil(network.server.routes[oldConnectionID])
        XCTAssertEqual(UInt64(server.localConnectionIDs.activeCount), client.localTransportParameters.activeConnectionIDLimit)
        XCTAssertGreaterThan(client.peerConnectionIDs.spareCount, 0, "spare IDs for the next migration")
    }

    /// A client with nothing to send (mid-download) still sends a non-probing packet from its new address, so the
    /// server moves to it (RFC 9000 §9.2, §9.3); before, only PATH_CHALLENGE went out and aioquic never followed.
    func testIdleClientMigrationSendsANonProbingPacket() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try serverConnection(network, serverHandle)
        network.run(for: .milliseconds(200))
        let newLocal = NetworkAddress(ipBytes: [10, 0, 1, 2], port: 5001)!
        network.clientLocals.insert(newLocal)
        try client.migrate(to: newLocal, from: network.clientSocket, now: network.now)
        XCTAssertTrue(client.isKeepAlivePending, "a PING goes out on the new path with the challenge")
        network.run(for: .milliseconds(200))
        XCTAssertFalse(client.isKeepAlivePending)
        XCTAssertEqual(server.remoteAddress, newLocal)
        let selected = try XCTUnwrap(client.paths.first { $0.isSelected })
        XCTAssertEqual(selected.localAddress, newLocal)
        XCTAssertTrue(selected.isValidated)
    }

    func testFailedClientMigrationFallsBackToOldPath() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try serverConnection(network, serverHandle)
        let deadLocal = NetworkAddress(ipBytes: [10, 0, 9, 9], port: 6000)!
        network.clientLocals.insert(deadLocal)
        network.cutOff.insert(deadLocal)
        let oldConnectionID = client.destinationConnectionID
        var migratedConnectionID: ConnectionID?
        _ = try uploadAcross(network, handle: handle) {
            try client.migrate(to: deadLocal, from: network.clientSocket, now: network.now)
            migratedConnectionID = client.destinationConnectionID
        }
        network.run(for: .milliseconds(200))
        XCTAssertEqual(client.selectedPathID, 0)
        XCTAssertEqual(client.destinationConnectionID, oldConnectionID, "the old path keeps its connection ID")
        XCTAssertEqual(
            network.pathEvents(of: network.client, handle).map(\.summary),
            ["opened 1", "selected 1", "selected 0", "closed 1"])
        XCTAssertEqual(server.remoteAddress, network.clientSocket)
        // The unused ID of the failed path is retired (RFC 9000 §9.5: never reused on another path).
        let migrated = try XCTUnwrap(migratedConnectionID)
        XCTAssertNil(network.server.routes[migrated])
    }

    func testServerFallsBackWhenSpoofedAddressFailsValidation() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try serverConnection(network, serverHandle)
        let spoofed = NetworkAddress(ipBytes: [203, 0, 113, 66], port: 999)!
        network.cutOff.insert(spoofed)
        let payload = patternBytes(count: uploadSize)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(10)) { (network.serverReceived[stream]?.count ?? 0) >= uploadSize / 3 })
        // One datagram appears to come from elsewhere (an off-path forwarder), then traffic resumes as before.
        let forged = try XCTUnwrap(lastClientDatagram(network, handle))
        network.server.handle(datagram: forged, from: spoofed, now: network.now)
        let injected = server.paths.contains { $0.remoteAddress == spoofed }
        XCTAssertTrue(injected, "a non-probing packet with the largest packet number opens a path")
        XCTAssertTrue(network.run(for: .seconds(30)) { network.serverFinished.contains(stream) })
        XCTAssertEqual(network.serverReceived[stream], payload)
        network.run(for: .seconds(4))
        XCTAssertEqual(server.remoteAddress, network.clientSocket)
        XCTAssertEqual(server.paths.map(\.id), [0])
        if injected {
            let events = network.pathEvents(of: network.server, serverHandle).map(\.summary)
            XCTAssertEqual(events.first, "opened 1")
            XCTAssertEqual(events.last, "closed 1")
        }
        // Whatever was sent towards the unvalidated address stayed under 3× what arrived from it (RFC 9000 §8.1).
        XCTAssertGreaterThan(network.serverBytesTo[spoofed] ?? 0, 0, "a PATH_CHALLENGE went to the new address")
        XCTAssertLessThanOrEqual(network.serverBytesTo[spoofed] ?? 0, 3 * forged.count)
    }

    func testAmplificationLimitOnUnvalidatedNewPath() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try serverConnection(network, serverHandle)
        let rebound = NetworkAddress(ipBytes: [198, 51, 100, 4], port: 7000)!
        // The client's packets reach the server from the new address, but nothing gets back to it there.
        let payload = patternBytes(count: 60_000)
        let stream = try network.upload(payload, on: handle)
        network.run(for: .milliseconds(15))
        network.nat[network.clientSocket] = rebound
        network.unreachableFromServer.insert(rebound)
        var worst = 0
        network.run(for: .seconds(2)) {
            let path = server.paths.first { $0.remoteAddress == rebound }
            if let path, !path.isValidated {
                worst = max(worst, (network.serverBytesTo[rebound] ?? 0) - 3 * Int(path.bytesReceived))
            }
            return false
        }
        XCTAssertTrue(server.paths.contains { $0.remoteAddress == rebound } || network.serverBytesTo[rebound] != nil)
        XCTAssertGreaterThan(network.serverBytesTo[rebound] ?? 0, 0, "a PATH_CHALLENGE went out")
        XCTAssertLessThanOrEqual(worst, 0, "never more than 3x the bytes received on the unvalidated path")
        _ = stream
    }

    func testMigrationPreconditions() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try serverConnection(network, serverHandle)
        let client = try XCTUnwrap(network.client.connection(handle))
        let local = NetworkAddress(ipBytes: [10, 0, 1, 1], port: 1)!
        XCTAssertThrowsError(try server.migrate(to: local, now: network.now)) { error in
            XCTAssertEqual(error as? MigrationError, .notClient)
        }
        client.peerTransportParameters?.disableActiveMigration = true
        XCTAssertThrowsError(try client.migrate(to: local, now: network.now)) { error in
            XCTAssertEqual(error as? MigrationError, .disabledByPeer)
        }
        XCTAssertFalse(
            server.localTransportParameters.disableActiveMigration, "Ferry allows active migration by default")
    }

    func testNoMigrationBeforeHandshakeConfirmation() throws {
        // RFC 9000 §9: "An endpoint MUST NOT initiate connection migration before the handshake is confirmed".
        let network = PathTestNetwork()
        let handle = try network.client.connect(
            to: network.serverAddress, expectedPeer: TestCryptoProvider.makeIdentity(seed: 2),
            alpns: [Array("test".utf8)], now: network.now)
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertThrowsError(try client.migrate(to: NetworkAddress(ipBytes: [10, 0, 1, 1], port: 1)!, now: network.now)) {
            XCTAssertEqual($0 as? MigrationError, .handshakeNotConfirmed)
        }
        XCTAssertEqual(client.paths.map(\.id), [0], "no path was opened")
    }

    func testDisableActiveMigrationIsAdvertisedAndHonoured() throws {
        var serverTransport = TransportConfig()
        serverTransport.allowsActiveMigration = false
        let network = PathTestNetwork(serverTransport: serverTransport)
        let (handle, _) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertEqual(client.peerTransportParameters?.disableActiveMigration, true)
        XCTAssertThrowsError(try client.migrate(to: nil, now: network.now)) { error in
            XCTAssertEqual(error as? MigrationError, .disabledByPeer)
        }
    }

    func testRetirePriorToRotatesConnectionIDs() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try serverConnection(network, serverHandle)
        let oldConnectionID = client.destinationConnectionID
        let firstNew = server.localConnectionIDs.nextSequenceNumber
        server.rotateLocalConnectionIDs()
        network.run(for: .milliseconds(300))
        XCTAssertGreaterThanOrEqual(client.peerConnectionIDs.active.sequenceNumber, firstNew)
        XCTAssertNotEqual(client.destinationConnectionID, oldConnectionID)
        XCTAssertTrue(server.localConnectionIDs.issued.allSatisfy { $0.sequenceNumber >= firstNew })
        XCTAssertNil(network.server.routes[oldConnectionID])
        // The connection still carries data on the new IDs.
        let payload = patternBytes(count: 20_000)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(5)) { network.serverFinished.contains(stream) })
        XCTAssertEqual(network.serverReceived[stream], payload)
    }

    func testManyNewAddressesStayBoundedAndTheConnectionRecovers() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        let server = try serverConnection(network, serverHandle)
        for index in 0..<6 {
            let spoofed = NetworkAddress(ipBytes: [203, 0, 113, UInt8(10 + index)], port: 1000)!
            network.cutOff.insert(spoofed)
            let forged = try XCTUnwrap(lastClientDatagram(network, handle))
            network.server.handle(datagram: forged, from: spoofed, now: network.now)
            XCTAssertLessThanOrEqual(server.paths.count, 4, "paths are bounded")
            XCTAssertEqual(server.remoteAddress, spoofed)
        }
        let payload = patternBytes(count: 50_000)
        let stream = try network.upload(payload, on: handle)
        XCTAssertTrue(network.run(for: .seconds(20)) { network.serverFinished.contains(stream) })
        XCTAssertFalse(network.isLivelocked, "livelock at \(network.now): server \(String(describing: network.server.nextTimeout())) client \(String(describing: network.client.nextTimeout())) paths \(server.paths.map { ($0.id, $0.remoteAddress, $0.isValidated) }) validations \(server.pathTable.paths.map { ($0.id, $0.validation?.deadline, $0.validation?.retryAt, $0.validation?.isChallengePending) }) loss \(String(describing: server.recovery.lossDetectionTimeout()))")
        XCTAssertEqual(network.serverReceived[stream], payload)
        XCTAssertEqual(server.remoteAddress, network.clientSocket, "back on the real path")
    }

    /// Builds a fresh 1-RTT datagram from the client (a PING) to replay from another address.
    private func lastClientDatagram(_ network: PathTestNetwork, _ handle: ConnectionHandle) -> [UInt8]? {
        network.client.connection(handle).flatMap(network.takePing)
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// NAT traversal over a relayed connection (draft-seemann-quic-nat-traversal-02 §4): the privacy gate, candidate
/// exchange, a punching round that moves the client to a direct path, fallback to the relay, the probe budget and
/// peer-reflexive candidates.
final class NATTraversalTests: XCTestCase {
    private func connected(
        gate: Bool = true, serverCandidates: [NetworkAddress]? = nil, clientCandidates: [NetworkAddress]? = nil,
        config: TransportConfig = TransportConfig()
    ) throws -> PunchTestNetwork {
        let network = PunchTestNetwork(transport: config)
        try network.connect()
        let client = try XCTUnwrap(network.clientConnection)
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertTrue(client.isNATTraversalNegotiated)
        XCTAssertTrue(server.isNATTraversalNegotiated)
        server.setLocalCandidates(serverCandidates ?? [network.serverSocket])
        client.setLocalCandidates(clientCandidates ?? [network.clientSocket])
        if gate {
            server.allowCandidateAdvertisement()
            client.allowCandidateAdvertisement()
        }
        network.run(for: .milliseconds(300))
        return network
    }

    // MARK: Privacy gate

    func testNoCandidateFrameBeforeTheGateOpensAndNoneIfItNeverDoes() throws {
        let network = try connected(gate: false)
        let client = try XCTUnwrap(network.clientConnection)
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertThrowsError(try client.startPunching(now: network.now)) {
            XCTAssertEqual($0 as? PunchingError, .advertisementNotAllowed)
        }
        _ = try network.upload(patternBytes(count: 50_000))
        network.run(for: .seconds(5))
        XCTAssertFalse(network.clientFrames.isEmpty)
        XCTAssertFalse(network.serverFrames.isEmpty)
        XCTAssertFalse(network.clientFrames.contains { $0.isNATTraversalFrame }, "relay-only: nothing")
        XCTAssertFalse(network.serverFrames.contains { $0.isNATTraversalFrame }, "relay-only: nothing")
        XCTAssertTrue(client.remoteCandidates.isEmpty)
        XCTAssertTrue(network.clientDirectSends.isEmpty && network.serverDirectSends.isEmpty)

        // Opening the gate on the server alone releases its ADD_ADDRESS, and only then.
        let before = network.serverFrames.count
        server.allowCandidateAdvertisement()
        network.run(for: .milliseconds(200))
        XCTAssertFalse(network.serverFrames[..<before].contains { $0.revealsCandidate })
        XCTAssertTrue(network.serverFrames[before...].contains { $0.revealsCandidate })
        XCTAssertFalse(network.clientFrames.contains { $0.revealsCandidate }, "the client's gate is still shut")
    }

    // MARK: Candidates

    func testServerCandidatesReachTheClientAndRemovalsFollow() throws {
        let extra = NetworkAddress(ipBytes: [198, 51, 100, 4], port: 443)!
        let network = try connected(serverCandidates: [PunchTestNetwork.placeholder, extra])
        let client = try XCTUnwrap(network.clientConnection)
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertEqual(client.remoteCandidates.map(\.address), [PunchTestNetwork.placeholder, extra])
        XCTAssertEqual(client.remoteCandidates.map(\.sequenceNumber), [0, 1])
        XCTAssertTrue(network.clientEvents.contains(.remoteCandidatesChanged))
        server.setLocalCandidates([extra])
        network.run(for: .milliseconds(300))
        XCTAssertEqual(client.remoteCandidates.map(\.address), [extra])
        XCTAssertTrue(network.serverFrames.contains(.removeAddress(sequenceNumber: 0)))
        // The client advertises nothing: its candidates travel only in PUNCH_ME_NOW (§4.2).
        XCTAssertFalse(network.clientFrames.contains { $0.isNATTraversalFrame })
    }

    func testRemoteCandidatesAreBounded() throws {
        var config = TransportConfig()
        config.natTraversal.maxRemoteCandidates = 2
        let many = (1...5).map { NetworkAddress(ipBytes: [198, 51, 100, UInt8($0)], port: 443)! }
        let network = try connected(serverCandidates: many, config: config)
        XCTAssertEqual(network.clientConnection?.remoteCandidates.count, 2)
        XCTAssertFalse(network.clientConnection?.isClosed ?? true)
    }

    // MARK: Punching

    func testPunchingMovesTheClientToADirectPathAndKeepsTheRelayAsFallback() throws {
        let network = try connected()
        let client = try XCTUnwrap(network.clientConnection)
        let relayedPath = client.selectedPathID
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { client.isOnPunchedDirectPath })
        XCTAssertEqual(client.paths.first { $0.isSelected }?.remoteAddress, network.serverSocket)
        XCTAssertTrue(client.paths.contains { $0.id == relayedPath && !$0.isSelected }, "relayed path kept")
        XCTAssertTrue(network.clientFrames.contains { if case .punchMeNow = $0 { true } else { false } })
        // The server followed the client onto the direct path.
        let stream = try network.upload(patternBytes(count: 200_000))
        XCTAssertTrue(network.run(for: .seconds(10)) { network.serverFinished.contains(stream) })
        XCTAssertEqual(network.serverReceived[stream], patternBytes(count: 200_000))
        XCTAssertEqual(network.serverConnection?.remoteAddress, network.clientSocket)
        XCTAssertTrue(network.clientEvents.contains(.pathsChanged))
    }

    func testDirectPathGoingDarkFallsBackToTheRelayWithoutLosingData() throws {
        let network = try connected()
        let client = try XCTUnwrap(network.clientConnection)
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { client.isOnPunchedDirectPath })
        let bytes = patternBytes(count: 300_000)
        let stream = try network.upload(bytes)
        network.run(for: .milliseconds(20))
        network.isDirectBlocked = true
        XCTAssertTrue(network.run(for: .seconds(20)) { network.serverFinished.contains(stream) })
        XCTAssertEqual(network.serverReceived[stream], bytes)
        XCTAssertFalse(client.isOnPunchedDirectPath)
        XCTAssertEqual(client.remoteAddress, network.serverViaRelay)
        XCTAssertFalse(client.isClosed)
    }

    func testProbeBudgetIsRespectedWhenNothingAnswers() throws {
        var config = TransportConfig()
        config.natTraversal.maxRounds = 2
        config.natTraversal.challengesPerProbe = 3
        let unreachable = (1...5).map { NetworkAddress(ipBytes: [192, 0, 2, UInt8($0)], port: 443)! }
        let network = try connected(serverCandidates: unreachable, config: config)
        let client = try XCTUnwrap(network.clientConnection)
        network.isDirectBlocked = true
        try client.startPunching(now: network.now)
        network.run(for: .seconds(20))
        let challenges = network.clientFrames.filter { if case .pathChallenge = $0 { true } else { false } }.count
        let punches = network.clientFrames.filter { if case .punchMeNow = $0 { true } else { false } }.count
        // 2 rounds × 3 probes (paths) × 3 challenges; PUNCH_ME_NOW within the server's concurrency limit per round.
        XCTAssertGreaterThan(challenges, 0)
        XCTAssertLessThanOrEqual(challenges, 2 * 3 * 3)
        XCTAssertLessThanOrEqual(punches, 2 * 3)
        XCTAssertLessThanOrEqual(network.clientDirectSends.values.reduce(0, +), 2 * 3 * 3)
        XCTAssertThrowsError(try client.startPunching(now: network.now)) {
            XCTAssertEqual($0 as? PunchingError, .roundsExhausted)
        }
        XCTAssertEqual(client.remoteAddress, network.serverViaRelay)
        XCTAssertFalse(client.isClosed)
        // The server probed each client candidate within its budget too.
        XCTAssertLessThanOrEqual(network.serverDirectSends.values.reduce(0, +), 2 * 3 * 3)
    }

    // MARK: Choosing among direct paths

    private static let serverV6 = NetworkAddress(ipBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2], port: 443)!
    private static let clientV6 = NetworkAddress(ipBytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], port: 4433)!

    /// A server reachable over IPv4 (10 ms one way) and IPv6 (`v6Delay` one way).
    private func dualStack(v6Delay: Duration) throws -> PunchTestNetwork {
        let network = try connected(
            serverCandidates: [PunchTestNetwork.placeholder, Self.serverV6], clientCandidates: nil)
        network.extraRoutes = [(client: Self.clientV6, server: Self.serverV6, delay: v6Delay)]
        let client = try XCTUnwrap(network.clientConnection)
        client.setLocalCandidates([network.clientSocket, Self.clientV6])
        return network
    }

    func testAnIPv6PathWinsOverAnIPv4OneThatValidatedFirst() throws {
        let network = try dualStack(v6Delay: .milliseconds(12))
        let client = try XCTUnwrap(network.clientConnection)
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { !network.clientPunchResults.isEmpty })
        XCTAssertEqual(client.remoteAddress, Self.serverV6)
        XCTAssertTrue(client.isOnPunchedDirectPath)
        XCTAssertEqual(network.clientPunchResults.count, 1)
        guard case .direct(let id) = network.clientPunchResults.first?.outcome else { return XCTFail() }
        XCTAssertEqual(id, client.selectedPathID)
        // The IPv4 path it left is closed; the relayed one stays as the fallback.
        XCTAssertFalse(client.paths.contains { $0.remoteAddress == network.serverSocket })
        XCTAssertTrue(client.paths.contains { $0.remoteAddress == network.serverViaRelay })
        let bytes = patternBytes(count: 100_000)
        let stream = try network.upload(bytes)
        XCTAssertTrue(network.run(for: .seconds(10)) { network.serverFinished.contains(stream) })
        XCTAssertEqual(network.serverReceived[stream], bytes)
    }

    func testAMuchSlowerIPv6PathDoesNotReplaceTheIPv4One() throws {
        let network = try dualStack(v6Delay: .milliseconds(60))
        let client = try XCTUnwrap(network.clientConnection)
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { !network.clientPunchResults.isEmpty })
        XCTAssertEqual(client.remoteAddress, network.serverSocket)
        XCTAssertTrue(client.isOnPunchedDirectPath)
        XCTAssertFalse(client.paths.contains { $0.remoteAddress == Self.serverV6 }, "the loser is closed")
    }

    func testPreferenceHysteresis() {
        let v4 = NetworkAddress(ipBytes: [192, 0, 2, 1], port: 1)!
        let v4b = NetworkAddress(ipBytes: [192, 0, 2, 2], port: 1)!
        let v6 = Self.serverV6
        func switches(_ from: NetworkAddress, _ old: Int, _ to: NetworkAddress, _ new: Int?) -> Bool {
            DirectPathPreference.shouldSwitch(
                from: .init(address: from, rtt: .milliseconds(old)), to: .init(address: to, rtt: new.map { .milliseconds($0) }))
        }
        XCTAssertTrue(switches(v4, 20, v6, 25), "IPv6 within 50 %")
        XCTAssertTrue(switches(v4, 1, v6, 3), "IPv6 within 2 ms")
        XCTAssertFalse(switches(v4, 20, v6, 40), "IPv6 much slower")
        XCTAssertFalse(switches(v6, 20, v4, 15), "IPv4 only a bit faster")
        XCTAssertTrue(switches(v6, 40, v4, 10), "IPv4 far faster")
        XCTAssertFalse(switches(v6, 12, v4, 5), "IPv4 faster but by under 10 ms")
        XCTAssertFalse(switches(v4, 20, v4b, 18), "near-equal paths do not flap")
        XCTAssertTrue(switches(v4, 30, v4b, 10), "a third faster and 5 ms")
        XCTAssertFalse(switches(v4, 6, v4b, 2), "a third faster but under 5 ms")
        XCTAssertFalse(switches(v4, 20, v6, nil), "no measurement, no switch")
    }

    // MARK: Punching again

    func testAFailedAttemptIsRetriedAfterTheRetryIntervalAndEachRoundReportsItsOutcome() throws {
        var config = TransportConfig()
        config.natTraversal.maxRounds = 1
        config.natTraversal.retryInterval = .seconds(20)
        config.keepAliveInterval = .seconds(5)
        let network = try connected(config: config)
        let client = try XCTUnwrap(network.clientConnection)
        network.isDirectBlocked = true
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { !network.clientPunchResults.isEmpty })
        XCTAssertEqual(network.clientPunchResults.map(\.outcome), [.failed])
        XCTAssertThrowsError(try client.startPunching(now: network.now)) {
            XCTAssertEqual($0 as? PunchingError, .roundsExhausted)
        }
        // The direct route opens; nothing is probed until the retry interval has passed, then the next attempt
        // gets through on its own.
        network.isDirectBlocked = false
        let retryDue = network.now + .seconds(20) - .seconds(5)
        network.run(for: .seconds(10))
        XCTAssertFalse(client.isOnPunchedDirectPath)
        XCTAssertTrue(network.run(for: .seconds(20)) { client.isOnPunchedDirectPath })
        XCTAssertGreaterThanOrEqual(network.now, retryDue)
        XCTAssertEqual(network.clientPunchResults.count, 2)
        XCTAssertEqual(network.clientPunchResults.first?.outcome, .failed)
        guard case .direct(let pathID) = network.clientPunchResults.last?.outcome else {
            return XCTFail("second round: \(network.clientPunchResults)")
        }
        XCTAssertEqual(pathID, client.selectedPathID)
        XCTAssertEqual(network.clientPunchResults.map(\.round), [1, 2])
    }

    func testAfterFallingBackTheClientPunchesAgainAndReturnsToTheDirectPath() throws {
        var config = TransportConfig()
        // Longer than the NATs keep an idle entry: the server must open its side again.
        config.natTraversal.retryInterval = .seconds(40)
        config.keepAliveInterval = .seconds(5)
        let network = try connected(config: config)
        let client = try XCTUnwrap(network.clientConnection)
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { client.isOnPunchedDirectPath })
        // The direct path goes dark under traffic: back to the relay, with the data intact.
        let bytes = patternBytes(count: 100_000)
        let stream = try network.upload(bytes)
        network.run(for: .milliseconds(20))
        network.isDirectBlocked = true
        XCTAssertTrue(network.run(for: .seconds(20)) { network.serverFinished.contains(stream) })
        XCTAssertEqual(network.serverReceived[stream], bytes)
        XCTAssertFalse(client.isOnPunchedDirectPath)
        // It comes back: the next attempt (after the retry interval) moves the connection direct again.
        network.isDirectBlocked = false
        XCTAssertTrue(network.run(for: .seconds(60)) { client.isOnPunchedDirectPath })
        XCTAssertEqual(client.remoteAddress, network.serverSocket)
        let again = try network.upload(bytes)
        XCTAssertTrue(network.run(for: .seconds(10)) { network.serverFinished.contains(again) })
        XCTAssertEqual(network.serverReceived[again], bytes)
        XCTAssertEqual(network.clientPunchResults.filter { $0.outcome != .failed }.count, 2)
    }

    func testRestartAfterANetworkChangeStartsAFreshAttemptButKeepsRoundsApart() throws {
        var config = TransportConfig()
        config.natTraversal.maxRounds = 1
        config.natTraversal.roundInterval = .seconds(2)
        config.natTraversal.retryInterval = .seconds(300)
        config.keepAliveInterval = .seconds(5)
        let network = try connected(config: config)
        let client = try XCTUnwrap(network.clientConnection)
        network.isDirectBlocked = true
        try client.startPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(10)) { !network.clientPunchResults.isEmpty })
        let roundsBefore = punchRounds(network.clientFrames)
        // A new local candidate (the runtime saw a network change): a fresh attempt starts at once.
        network.isDirectBlocked = false
        client.setLocalCandidates([network.clientSocket, NetworkAddress(ipBytes: [10, 0, 0, 9], port: 4433)!])
        try client.restartPunching(now: network.now)
        XCTAssertTrue(network.run(for: .seconds(5)) { client.isOnPunchedDirectPath })
        XCTAssertGreaterThan(punchRounds(network.clientFrames), roundsBefore)
        // On a direct path a restart does nothing.
        let frames = network.clientFrames.count
        try client.restartPunching(now: network.now)
        network.run(for: .milliseconds(100))
        XCTAssertFalse(network.clientFrames[frames...].contains { if case .punchMeNow = $0 { true } else { false } })
    }

    func testRestartsInQuickSuccessionStillKeepRoundsAtLeastTheRoundIntervalApart() throws {
        var config = TransportConfig()
        config.natTraversal.maxRounds = 1
        config.natTraversal.roundInterval = .seconds(2)
        config.keepAliveInterval = .seconds(5)
        let network = try connected(config: config)
        let client = try XCTUnwrap(network.clientConnection)
        network.isDirectBlocked = true
        try client.startPunching(now: network.now)
        let start = network.now
        // A flapping interface: a restart every 100 ms for 10 s.
        for _ in 0..<100 {
            try? client.restartPunching(now: network.now)
            network.run(for: .milliseconds(100))
        }
        let elapsed = network.now - start
        let maxRounds = Int(elapsed / .seconds(2)) + 1
        XCTAssertLessThanOrEqual(punchRounds(network.clientFrames), maxRounds)
        XCTAssertLessThanOrEqual(network.clientPunchResults.count, maxRounds)
        XCTAssertGreaterThanOrEqual(network.clientPunchResults.count, 2, "restarts did start rounds")
    }

    func testProbesStayWithinTheBackedOffBudgetOverAnHour() throws {
        var config = TransportConfig()
        config.natTraversal.maxRounds = 3
        config.natTraversal.challengesPerProbe = 3
        config.natTraversal.roundInterval = .seconds(2)
        config.natTraversal.retryInterval = .seconds(30)
        config.natTraversal.maxRetryInterval = .seconds(600)
        config.keepAliveInterval = .seconds(10)
        config.maxIdleTimeout = .seconds(60)
        let network = try connected(config: config)
        let client = try XCTUnwrap(network.clientConnection)
        network.isDirectBlocked = true
        try client.startPunching(now: network.now)
        network.run(for: .seconds(3600))
        XCTAssertFalse(client.isClosed)
        // Attempts start at 0 s, then 30, 60, 120, 240, 480 and 600 s apart: 30 + 60 + 120 + 240 + 480 = 930 s,
        // then every 600 s, so at most 1 + 5 + 5 = 11 attempts in an hour, of 3 rounds × 1 probe × 3 challenges.
        let attempts = network.clientPunchResults.count / 3
        XCTAssertGreaterThanOrEqual(attempts, 8)
        XCTAssertLessThanOrEqual(network.clientPunchResults.count, 11 * 3)
        let challenges = network.clientFrames.filter { if case .pathChallenge = $0 { true } else { false } }.count
        XCTAssertLessThanOrEqual(challenges, 11 * 3 * 3)
        XCTAssertTrue(network.clientPunchResults.allSatisfy { $0.outcome == .failed })
    }

    private func punchRounds(_ frames: [SentFrame]) -> Int {
        Set(frames.compactMap { if case .punchMeNow(let round, _, _) = $0 { round } else { nil } }).count
    }

    func testChallengeFromAnUnknownAddressIsLearnedPeerReflexively() throws {
        // The client offers only a private address; its NAT maps it to another public one.
        let privateAddress = NetworkAddress(ipBytes: [192, 168, 1, 7], port: 4433)!
        let publicAddress = NetworkAddress(ipBytes: [203, 0, 113, 50], port: 61000)!
        let network = try connected(clientCandidates: [privateAddress])
        network.clientPublic = publicAddress
        network.serverFilters = false
        let client = try XCTUnwrap(network.clientConnection)
        let server = try XCTUnwrap(network.serverConnection)
        try client.startPunching(now: network.now)
        network.run(for: .seconds(10)) { server.remoteCandidates.contains { $0.origin == .peerReflexive } }
        network.run(for: .milliseconds(200))  // the PUNCH_ME_NOW takes the slower relayed path
        XCTAssertEqual(
            server.remoteCandidates.first { $0.origin == .peerReflexive }?.address, publicAddress)
        XCTAssertTrue(server.remoteCandidates.contains { $0.address == privateAddress && $0.origin == .punchRequest })
        XCTAssertTrue(network.serverEvents.contains(.remoteCandidatesChanged))
    }

    // MARK: Errors

    func testFramesFromTheWrongSideAreProtocolViolations() throws {
        let network = try connected()
        let server = try XCTUnwrap(network.serverConnection)
        let frame = Frame.addAddress(try XCTUnwrap(AddAddressFrame(sequenceNumber: 0, ipAddress: [1, 2, 3, 4], port: 1)))
        XCTAssertThrowsError(try server.handleNATTraversalFrame(frame, now: network.now)) {
            XCTAssertEqual(($0 as? TransportError)?.code, .protocolViolation)
        }
        let client = try XCTUnwrap(network.clientConnection)
        let punch = Frame.punchMeNow(
            try XCTUnwrap(PunchMeNowFrame(round: 1, pairedWithSequenceNumber: 0, ipAddress: [1, 2, 3, 4], port: 1)))
        XCTAssertThrowsError(try client.handleNATTraversalFrame(punch, now: network.now))
        XCTAssertThrowsError(try server.startPunching(now: network.now)) {
            XCTAssertEqual($0 as? PunchingError, .notClient)
        }
    }

    func testDisabledOnOneSideIsNotNegotiatedAndSendsNothing() throws {
        var disabled = TransportConfig()
        disabled.natTraversal.isEnabled = false
        let network = PunchTestNetwork(transport: TransportConfig(), serverTransport: disabled)
        try network.connect()
        let client = try XCTUnwrap(network.clientConnection)
        XCTAssertFalse(client.isNATTraversalNegotiated)
        client.setLocalCandidates([network.clientSocket])
        client.allowCandidateAdvertisement()
        XCTAssertThrowsError(try client.startPunching(now: network.now)) {
            XCTAssertEqual($0 as? PunchingError, .notNegotiated)
        }
        network.run(for: .seconds(1))
        XCTAssertFalse(network.clientFrames.contains { $0.isNATTraversalFrame })
    }
}

extension PunchTestNetwork {
    /// The server socket's address, for candidate lists built before a network exists.
    static let placeholder = NetworkAddress(ipBytes: [10, 0, 0, 2], port: 443)!
}

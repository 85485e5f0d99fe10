import Ferry
import FerryCrypto
import FerryDaemon
import FerryRelay
import XCTest

/// A connection dialed by id starts on the relay and moves to a direct path by itself (docs/nat-traversal.md);
/// in relay-only mode it never does.
final class RelayPunchingTests: XCTestCase {
    func testARelayedConnectionMovesToADirectPathWithoutLosingData() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"], pathMode: .auto)
        let client = try await relayedEndpoint(relays: [relayAddress], pathMode: .auto)
        let echoTask = serveEcho(server)
        let serverLinked = await server.waitUntilRelayed()
        XCTAssertTrue(serverLinked)
        let connection = try await withTimeout(20) {
            try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1")
        }
        // A transfer that spans the move: it starts while the relay carries the connection.
        let payload = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 29) }
        async let reply = withTimeout(30) { try await echo(payload, over: connection) }
        try await waitFor("the connection to select a direct path") {
            // `paths` is async; sample it through a detached read of the latest value.
            latestKind.withLock { $0 } == .direct
        } sampling: {
            let kind = await connection.paths.first?.kind
            latestKind.withLock { $0 = kind }
        }
        let echoed = try await reply
        XCTAssertEqual(echoed, payload)
        let paths = await connection.paths
        XCTAssertEqual(paths.first?.kind, .direct)
        XCTAssertTrue(paths.contains { $0.kind == .relayed(relay: relayAddress.id) }, "the relayed path stays as fallback")

        connection.close()
        echoTask.cancel()
        await client.close()
        await server.close()
        await relay.shutdown()
    }

    func testRelayOnlyConnectionsNeverGoDirect() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"], pathMode: .auto)
        let client = try await relayedEndpoint(relays: [relayAddress], pathMode: .relayOnly)
        let echoTask = serveEcho(server)
        _ = await server.waitUntilRelayed()
        let connection = try await withTimeout(20) {
            try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1")
        }
        // Round trips give any punching time to happen; a relay-only client never starts it.
        for round in 0..<20 {
            let reply = try await withTimeout(10) { try await echo(Array("round \(round)".utf8), over: connection) }
            XCTAssertEqual(reply, Array("round \(round)".utf8))
        }
        let paths = await connection.paths
        XCTAssertTrue(paths.allSatisfy { $0.kind.isRelayed }, "\(paths)")
        connection.close()
        echoTask.cancel()
        await client.close()
        await server.close()
        await relay.shutdown()
    }
}

/// The last path kind sampled by the waiting test.
private let latestKind = TestBox<PathKind?>(nil)

/// `ferry ping`'s library half against an echo service reached by id: every reply names its path.
final class PeerPingTests: XCTestCase {
    func testPingsReportTheirPathAndEndDirect() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let echoALPN = DaemonConfig.ServiceSettings.alpn(for: "echo")
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: [echoALPN], pathMode: .auto)
        let client = try await relayedEndpoint(relays: [relayAddress], pathMode: .auto)
        let echoTask = serveEcho(server)
        _ = await server.waitUntilRelayed()
        let replies = try await withTimeout(30) {
            try await PeerPing.run(endpoint: client, peer: EndpointAddress(id: server.id), count: 20, interval: .milliseconds(20))
        }
        XCTAssertEqual(replies.map(\.sequence), Array(1...20))
        XCTAssertTrue(replies.allSatisfy { $0.path == "direct" || $0.path.hasPrefix("relayed via") }, "\(replies)")
        XCTAssertEqual(replies.last?.path, "direct", "on loopback the connection punches through within 20 pings")
        echoTask.cancel()
        await client.close()
        await server.close()
        await relay.shutdown()
    }
}

/// ferryd's path metrics follow a connection from the relay to its punched direct path.
final class PathMetricsTests: XCTestCase {
    /// Hands every accepted connection to the metrics, as ferryd's policy engine does.
    struct ObservingHook: EndpointHooks {
        let metrics: DaemonMetrics

        func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
            metrics.observePaths(of: connection)
            return .accept
        }
    }

    func testMetricsCountTheMoveToADirectPath() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let metrics = DaemonMetrics()
        let server = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"],
            configuration: EndpointConfiguration(relays: [relayAddress], pathMode: .auto),
            hooks: [ObservingHook(metrics: metrics)])
        let clientMetrics = DaemonMetrics()
        let client = try await relayedEndpoint(
            relays: [relayAddress], pathMode: .auto, hooks: [ObservingHook(metrics: clientMetrics)])
        let echoTask = serveEcho(server)
        _ = await server.waitUntilRelayed()
        let connection = try await withTimeout(20) { try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1") }
        for round in 0..<10 {
            _ = try await withTimeout(10) { try await echo(Array("round \(round)".utf8), over: connection) }
        }
        try await waitFor("the server's metrics to see the direct path") {
            let text = metrics.render()
            return text.contains(#"ferry_connections_by_path{kind="direct"} 1"#)
                && text.contains(#"ferry_path_selected_total{kind="relayed"} 1"#)
                && text.contains(#"ferry_path_selected_total{kind="direct"} 1"#)
                && text.contains("ferry_time_to_direct_seconds_count 1")
        }
        // The dialing side ran the punching round that got through, and counted it.
        try await waitFor("the client's metrics to count the punching round") {
            let text = clientMetrics.render()
            return text.contains(#"ferry_punch_attempts_total{outcome="direct"} 1"#)
                && text.contains(#"ferry_connections_by_path{kind="direct"} 1"#)
                && !text.contains("ferry_direct_path_fallbacks_total")
        }
        connection.close()
        echoTask.cancel()
        await client.close()
        await server.close()
        await relay.shutdown()
        try await waitFor("the closed connection to leave the gauge") {
            metrics.render().contains(#"ferry_connections_by_path{kind="direct"} 0"#)
        }
    }
}

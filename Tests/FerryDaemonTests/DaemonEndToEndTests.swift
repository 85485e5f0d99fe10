import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// Two daemons in one process over real UDP and TCP sockets on loopback: services, tunnels, policy, reload,
/// control socket and metrics.
final class DaemonEndToEndTests: XCTestCase {
    func makeKey(_ directory: TemporaryDirectory, _ name: String) throws -> EndpointID {
        let identity = EndpointIdentity.generate()
        try identity.save(toFile: directory.path + "/" + name)
        return identity.id
    }

    func testTunnelEchoAllowlistReloadControlAndMetrics() async throws {
        let directory = TemporaryDirectory()
        let echoServer = try TCPEchoServer()
        let clientID = try makeKey(directory, "b.key")
        let strangerID = try makeKey(directory, "c.key")
        XCTAssertNotEqual(clientID, strangerID)
        let serverConfig = DaemonTOML.endpoint(keyFile: "a.key", extra: ["reevaluate_on_reload = true"], controlSocket: "a.sock")
            + DaemonTOML.metrics
            + DaemonTOML.service("echo", type: "echo")
            + DaemonTOML.service("fwd", forwardTo: echoServer.port)
            + DaemonTOML.hook("log")
            + DaemonTOML.hook("allow-endpoints", "endpoints = [\"\(clientID.hex)\"]")
        let server = try await startDaemon(in: directory, "a.toml", serverConfig, logLevel: .warning)
        let serverAddress = server.peerAddress

        let client = try await startDaemon(
            in: directory, "b.toml",
            DaemonTOML.endpoint(keyFile: "b.key")
                + DaemonTOML.tunnel(to: serverAddress, service: "echo")
                + DaemonTOML.tunnel(to: serverAddress, service: "fwd"),
            logLevel: .warning)
        let serving = Task { await server.serve() }
        let clientServing = Task { await client.serve() }

        // Echo service through a tunnel, with half-close: EOF after our shutdown(SHUT_WR) comes back as EOF.
        let payload = Array("hello through ferry".utf8)
        let echoed = try await TCPTestClient.exchange(port: client.tunnelPorts[0], payload, halfClose: true)
        XCTAssertEqual(echoed.bytes, payload)
        XCTAssertFalse(echoed.endedWithReset)

        // TCP forward service: a larger payload through the same QUIC connection.
        let forward = try TCPTestClient(port: client.tunnelPorts[1])
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let received = try await forward.roundTrip(big)
        XCTAssertTrue(received == big, "received \(received.count) of \(big.count) bytes")
        let forwardEnd = try await forward.finish()
        XCTAssertEqual(forwardEnd, [])

        // Control socket: status, connections, remotes.
        let control = ControlClient(path: directory.path + "/a.sock")
        let status = try control.request(ControlRequest(command: "status"), as: ControlStatus.self)
        XCTAssertEqual(status.endpointID, server.endpointID.hex)
        XCTAssertEqual(status.hooks, ["log-1 (log)", "allow-endpoints-2 (allow-endpoints)"])
        let connections = try control.request(ControlRequest(command: "connections"), as: [ControlConnection].self)
        XCTAssertTrue(connections.contains { $0.remoteID == clientID.hex && $0.side == "server" }, "\(connections)")
        let remotes = try control.request(ControlRequest(command: "remotes"), as: [ControlRemote].self)
        let remote = try XCTUnwrap(remotes.first { $0.remoteID == clientID.hex })
        XCTAssertGreaterThanOrEqual(remote.connections, 1)
        XCTAssertGreaterThan(remote.bytesReceived, 0)
        XCTAssertEqual(remote.pathsSeen.count, 1)
        XCTAssertThrowsError(try control.request(ControlRequest(command: "nope"), as: ControlCheck.self))

        // Metrics over HTTP.
        let serverMetricsPort = try XCTUnwrap(server.metricsPort)
        let metricsText = try await scrapeMetrics(port: serverMetricsPort)
        XCTAssertTrue(metricsText.hasPrefix("HTTP/1.1 200 OK"), metricsText)
        XCTAssertTrue(metricsText.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-2",outcome="accept"}"#), metricsText)
        XCTAssertTrue(metricsText.contains(#"ferry_connections_opened_total{side="server"}"#), metricsText)

        // A stranger is rejected by the allowlist: its tunnel connection is closed without data.
        let stranger = try await startDaemon(
            in: directory, "c.toml",
            DaemonTOML.endpoint(keyFile: "c.key") + DaemonTOML.tunnel(to: serverAddress, service: "echo"),
            logLevel: .warning)
        let strangerServing = Task { await stranger.serve() }
        let refused = try await TCPTestClient.exchange(port: stranger.tunnelPorts[0], payload)
        XCTAssertEqual(refused.bytes, [])
        let rejections = try await scrapeMetrics(port: serverMetricsPort)
        XCTAssertTrue(rejections.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-2",outcome="reject"}"#), rejections)

        // An invalid reload keeps the running policy and reports the error with file and line.
        directory.write("a.toml", serverConfig + "bogus = 1\n")
        let failed = await server.reload()
        XCTAssertFalse(failed.ok)
        XCTAssertEqual(failed.error, "\(directory.path)/a.toml:20: key 'bogus': unknown key")
        XCTAssertEqual(server.config.hooks.count, 2)

        // A valid reload that drops the client from the allowlist closes its connection (reevaluate_on_reload).
        directory.write("a.toml", serverConfig.replacingOccurrences(of: clientID.hex, with: strangerID.hex))
        let reloaded = await server.reload()
        XCTAssertTrue(reloaded.ok, "\(reloaded)")
        XCTAssertGreaterThanOrEqual(reloaded.closedConnections, 1)
        let afterReload = try await TCPTestClient.exchange(port: client.tunnelPorts[0], payload)
        XCTAssertEqual(afterReload.bytes, [], "the client is no longer allowed")

        await shutDown(stranger, client, server, serving: serving, clientServing, strangerServing)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/a.sock"))
        // The echo server must outlive every use of its port (ARC may release it after its last mention).
        withExtendedLifetime(echoServer) {}
    }
}

final class DaemonResetPropagationTests: XCTestCase {
    func testUnreachableForwardResetsTheTunnelledTCPConnection() async throws {
        let directory = TemporaryDirectory()
        // A port with nothing listening: bind, learn the port, close.
        let closedPort: UInt16 = try {
            let server = try TCPEchoServer()
            return server.port
        }()
        let server = try await startDaemon(
            in: directory, "a.toml",
            DaemonTOML.endpoint(keyFile: "a.key") + DaemonTOML.service("dead", forwardTo: closedPort))
        let client = try await startDaemon(
            in: directory, "b.toml",
            DaemonTOML.endpoint(keyFile: "b.key") + DaemonTOML.tunnel(to: server.peerAddress, service: "dead"))
        let serving = Task { await client.serve() }
        let result = try await TCPTestClient.exchange(port: client.tunnelPorts[0], Array("anyone there?".utf8))
        XCTAssertEqual(result.bytes, [])
        XCTAssertTrue(result.endedWithReset, "the stream reset reaches the TCP client as RST")
        await shutDown(client, server, serving: serving)
    }
}

final class DaemonConnectionLimitTests: XCTestCase {
    func testMaxConnectionsPerEndpointRefusesTheSecondConnection() async throws {
        let directory = TemporaryDirectory()
        let server = try await startDaemon(
            in: directory, "a.toml",
            DaemonTOML.endpoint(keyFile: "a.key")
                + DaemonTOML.service("one", type: "echo")
                + DaemonTOML.service("two", type: "echo")
                + DaemonTOML.hook("max-connections", "per_endpoint = 1"))
        let client = try await startDaemon(
            in: directory, "b.toml",
            DaemonTOML.endpoint(keyFile: "b.key")
                + DaemonTOML.tunnel(to: server.peerAddress, service: "one")
                + DaemonTOML.tunnel(to: server.peerAddress, service: "two"))
        let serving = Task { await client.serve() }
        let payload = Array("one connection per peer".utf8)
        let first = try TCPTestClient(port: client.tunnelPorts[0])
        let firstEcho = try await first.roundTrip(payload)
        XCTAssertEqual(firstEcho, payload)
        // The first QUIC connection is still open (its stream is), so a second one from the same id is refused.
        let second = try await TCPTestClient.exchange(port: client.tunnelPorts[1], payload)
        XCTAssertEqual(second.bytes, [])
        XCTAssertEqual(server.registry.count, 1)
        let firstEnd = try await first.finish()
        XCTAssertEqual(firstEnd, [])
        await shutDown(client, server, serving: serving)
    }
}

final class DaemonReloadServicesAndTunnelsTests: XCTestCase {
    /// A reload adds and removes tunnels and changes a service's `forward` without touching what stays.
    func testReloadSwapsTunnelsAndServiceSettings() async throws {
        let directory = TemporaryDirectory()
        let firstEcho = try TCPEchoServer()
        let secondEcho = try DigestingEchoServer()
        let serverText = { (port: UInt16) in
            DaemonTOML.endpoint(keyFile: "a.key")
                + DaemonTOML.service("echo", type: "echo")
                + DaemonTOML.service("fwd", forwardTo: port)
        }
        let server = try await startDaemon(in: directory, "a.toml", serverText(firstEcho.port))
        let tunnel = { (service: String) in DaemonTOML.tunnel(to: server.peerAddress, service: service) }
        let clientHead = DaemonTOML.endpoint(keyFile: "b.key")
        let client = try await startDaemon(in: directory, "b.toml", clientHead + tunnel("echo"))
        let serving = Task { await client.serve() }

        let echoPort = client.tunnelPorts[0]
        let kept = try TCPTestClient(port: echoPort)
        let keptOne = try await kept.roundTrip(Array("one".utf8))
        XCTAssertEqual(keptOne, Array("one".utf8))

        // Add a tunnel to `fwd`: bound by the reload, served at once; the echo tunnel keeps its port and stream.
        directory.write("b.toml", clientHead + tunnel("echo") + tunnel("fwd"))
        let added = await client.reload()
        XCTAssertTrue(added.ok, "\(added)")
        XCTAssertEqual(added.needsRestart, [])
        XCTAssertEqual(client.tunnelPorts.count, 2)
        XCTAssertEqual(client.tunnelPorts[0], echoPort)
        let forwarded = try TCPTestClient(port: client.tunnelPorts[1])
        let forwardedTwo = try await forwarded.roundTrip(Array("two".utf8))
        XCTAssertEqual(forwardedTwo, Array("two".utf8))
        let keptThree = try await kept.roundTrip(Array("three".utf8))
        XCTAssertEqual(keptThree, Array("three".utf8))

        // The server's `fwd` now forwards to another echo server: the next stream goes there.
        directory.write("a.toml", serverText(secondEcho.port))
        let changed = await server.reload()
        XCTAssertTrue(changed.ok, "\(changed)")
        XCTAssertEqual(changed.needsRestart, [])
        let redirected = try await TCPTestClient.exchange(port: client.tunnelPorts[1], Array("four".utf8), halfClose: true)
        XCTAssertEqual(redirected.bytes, Array("four".utf8))
        XCTAssertEqual(secondEcho.digest(of: 0), SHA256.hex(Array("four".utf8)))

        // Remove the echo tunnel: its port stops listening; the fwd tunnel stays.
        let fwdPort = client.tunnelPorts[1]
        directory.write("b.toml", clientHead + tunnel("fwd"))
        let removed = await client.reload()
        XCTAssertTrue(removed.ok, "\(removed)")
        XCTAssertEqual(client.tunnelPorts, [fwdPort])
        XCTAssertThrowsError(try TCPTestClient(port: echoPort))

        // A new service name needs no restart (it is offered at once); a tunnel port that cannot be bound fails the reload.
        directory.write("a.toml", serverText(secondEcho.port) + DaemonTOML.service("new", type: "echo"))
        let newService = await server.reload()
        XCTAssertEqual(newService.needsRestart, [])
        let busy = try TCPEchoServer()
        let busyTunnel = DaemonTOML.tunnel(to: server.peerAddress, service: "echo", listen: "127.0.0.1:\(busy.port)")
        directory.write("b.toml", clientHead + tunnel("fwd") + busyTunnel)
        let clash = await client.reload()
        XCTAssertFalse(clash.ok)
        XCTAssertTrue(clash.error?.contains("b.toml:10: tunnel 'listen'") == true, "\(clash)")
        XCTAssertEqual(client.tunnelPorts, [fwdPort])

        kept.shutdownWrite()
        await shutDown(client, server, serving: serving)
        withExtendedLifetime((firstEcho, secondEcho, busy)) {}
    }
}

final class DaemonIncomingStageTests: XCTestCase {
    /// `deny-ips` and `rate-limit` run in the runtime's incoming filter: a refused attempt never completes a
    /// handshake (CONNECTION_REFUSED, RFC 9000 §20.1), and a later `allow-endpoints` hook never sees it.
    func testAddressHooksRefuseBeforeTheHandshake() async throws {
        let directory = TemporaryDirectory()
        let daemon = try await startDaemon(
            in: directory, "a.toml",
            DaemonTOML.endpoint(keyFile: "a.key")
                + DaemonTOML.metrics
                + DaemonTOML.service("echo", type: "echo")
                + DaemonTOML.hook("rate-limit", "rate = 0.001", "burst = 1")
                + DaemonTOML.hook("deny-ips", "cidrs = [\"192.0.2.0/24\"]")
                + DaemonTOML.hook("allow-endpoints", "endpoints = [\"\(sampleID)\"]"))
        let serving = Task { await daemon.serve() }
        let endpoint = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: EndpointIdentity.generate(), alpns: [])
        let peer = EndpointAddress(id: daemon.endpointID, directAddresses: [daemon.localAddresses[0]])

        // The first attempt spends the bucket's only token, completes the handshake, and is refused by the
        // allowlist after it with 403.
        var first: ConnectionCloseReason?
        do {
            first = await (try await endpoint.connect(to: peer, alpn: "ferry/tcp/echo")).closed
        } catch {
            if case .closed(let reason) = error { first = reason }
        }
        guard case .applicationClosed(policyRejectionCode, _, .peer) = first else {
            return XCTFail("expected the allowlist's 403 after the handshake, got \(String(describing: first))")
        }
        // The second is refused by the rate limit before any handshake: connect itself fails.
        do {
            let connection = try await endpoint.connect(to: peer, alpn: "ferry/tcp/echo")
            XCTFail("the rate limit should refuse before the handshake, got \(connection)")
        } catch {
            switch error {
            case .closed(.transportError(let transportError, by: .peer)), .connectFailed(let transportError):
                XCTAssertEqual(transportError.code, .connectionRefused)
            default:
                XCTFail("expected CONNECTION_REFUSED, got \(error)")
            }
        }
        let metricsPort = try XCTUnwrap(daemon.metricsPort)
        let metrics = try await scrapeMetrics(port: metricsPort)
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="rate-limit-1",outcome="accept"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="rate-limit-1",outcome="reject"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-3",outcome="reject"} 1"#), metrics)
        XCTAssertFalse(metrics.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-3",outcome="accept"}"#), "decisions are counted only where a hook decides")
        await endpoint.close()
        await shutDown(daemon, serving: serving)
    }
}

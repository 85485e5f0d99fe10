import Ferry
import Foundation
import Logging
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

    func startDaemon(_ directory: TemporaryDirectory, _ name: String, _ text: String) async throws -> Daemon {
        let path = directory.write(name, text)
        let config = try DaemonConfig.load(path: path)
        var logger = Logger(label: name)
        logger.logLevel = ProcessInfo.processInfo.environment["FERRYD_TEST_LOG"] == nil ? .warning : .debug
        return try await Daemon.start(config: config, logger: logger, notifier: SystemdNotifier(environment: [:]))
    }

    func testTunnelEchoAllowlistReloadControlAndMetrics() async throws {
        let directory = TemporaryDirectory()
        let echoServer = try TCPEchoServer()
        let clientID = try makeKey(directory, "b.key")
        let strangerID = try makeKey(directory, "c.key")
        XCTAssertNotEqual(clientID, strangerID)
        let serverConfig = """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            reevaluate_on_reload = true
            [control]
            socket = "a.sock"
            [metrics]
            listen = "127.0.0.1:0"
            [[services]]
            name = "echo"
            type = "echo"
            [[services]]
            name = "fwd"
            forward = "127.0.0.1:\(echoServer.port)"
            [[hooks]]
            type = "log"
            [[hooks]]
            type = "allow-endpoints"
            endpoints = ["\(clientID.hex)"]
            """
        let server = try await startDaemon(directory, "a.toml", serverConfig)
        let serverAddress = "\(server.endpointID.hex)@\(server.localAddresses[0])"

        let client = try await startDaemon(directory, "b.toml", """
            [endpoint]
            key_file = "b.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(serverAddress)"
            service = "echo"
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(serverAddress)"
            service = "fwd"
            """)
        let serving = Task { await server.serve() }
        let clientServing = Task { await client.serve() }

        // Echo service through a tunnel, with half-close: EOF after our shutdown(SHUT_WR) comes back as EOF.
        let echo = try TCPTestClient(port: client.tunnelPorts[0])
        let payload = Array("hello through ferry".utf8)
        echo.write(payload)
        echo.shutdownWrite()
        let echoed = try await offPool { echo.readToEnd() }
        XCTAssertEqual(echoed.bytes, payload)
        XCTAssertFalse(echoed.endedWithReset)

        // TCP forward service: a larger payload through the same QUIC connection.
        let forward = try TCPTestClient(port: client.tunnelPorts[1])
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        forward.write(big)
        let received = try await offPool { forward.read(count: big.count) }
        XCTAssertTrue(received == big, "received \(received.count) of \(big.count) bytes")
        forward.shutdownWrite()
        let forwardEnd = try await offPool { forward.readToEnd().bytes }
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
        let metricsText = try await offPool { try httpGet(port: serverMetricsPort, path: "/metrics") }
        XCTAssertTrue(metricsText.hasPrefix("HTTP/1.1 200 OK"), metricsText)
        XCTAssertTrue(metricsText.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-2",outcome="accept"}"#), metricsText)
        XCTAssertTrue(metricsText.contains(#"ferry_connections_opened_total{side="server"}"#), metricsText)

        // A stranger is rejected by the allowlist: its tunnel connection is closed without data.
        let stranger = try await startDaemon(directory, "c.toml", """
            [endpoint]
            key_file = "c.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(serverAddress)"
            service = "echo"
            """)
        let strangerServing = Task { await stranger.serve() }
        let refused = try TCPTestClient(port: stranger.tunnelPorts[0])
        refused.write(payload)
        let refusedResult = try await offPool { refused.readToEnd() }
        XCTAssertEqual(refusedResult.bytes, [])
        let rejections = try await offPool { try httpGet(port: serverMetricsPort, path: "/metrics") }
        XCTAssertTrue(rejections.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-2",outcome="reject"}"#), rejections)

        // An invalid reload keeps the running policy and reports the error with file and line.
        directory.write("a.toml", serverConfig + "\nbogus = 1\n")
        let failed = await server.reload()
        XCTAssertFalse(failed.ok)
        XCTAssertEqual(failed.error, "\(directory.path)/a.toml:20: key 'bogus': unknown key")
        XCTAssertEqual(server.config.hooks.count, 2)

        // A valid reload that drops the client from the allowlist closes its connection (reevaluate_on_reload).
        directory.write("a.toml", serverConfig.replacingOccurrences(of: clientID.hex, with: strangerID.hex))
        let reloaded = await server.reload()
        XCTAssertTrue(reloaded.ok, "\(reloaded)")
        XCTAssertGreaterThanOrEqual(reloaded.closedConnections, 1)
        let afterReload = try TCPTestClient(port: client.tunnelPorts[0])
        afterReload.write(payload)
        let afterReloadBytes = try await offPool { afterReload.readToEnd().bytes }
        XCTAssertEqual(afterReloadBytes, [], "the client is no longer allowed")

        await stranger.shutdown()
        await client.shutdown()
        await server.shutdown()
        await serving.value
        await clientServing.value
        await strangerServing.value
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/a.sock"))
        // The echo server must outlive every use of its port (ARC may release it after its last mention).
        withExtendedLifetime(echoServer) {}
    }
}

/// A minimal blocking HTTP GET returning the raw response.
func httpGet(port: Int, path: String) throws -> String {
    let client = try TCPTestClient(port: port)
    client.write(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
    return String(decoding: client.readToEnd().bytes, as: UTF8.self)
}

final class DaemonResetPropagationTests: XCTestCase {
    func testUnreachableForwardResetsTheTunnelledTCPConnection() async throws {
        let directory = TemporaryDirectory()
        // A port with nothing listening: bind, learn the port, close.
        let closedPort: UInt16 = try {
            let server = try TCPEchoServer()
            return server.port
        }()
        var logger = Logger(label: "reset")
        logger.logLevel = .critical
        let serverPath = directory.write("a.toml", """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[services]]
            name = "dead"
            forward = "127.0.0.1:\(closedPort)"
            """)
        let server = try await Daemon.start(config: try DaemonConfig.load(path: serverPath), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let clientPath = directory.write("b.toml", """
            [endpoint]
            key_file = "b.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(server.endpointID.hex)@\(server.localAddresses[0])"
            service = "dead"
            """)
        let client = try await Daemon.start(config: try DaemonConfig.load(path: clientPath), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let serving = Task { await client.serve() }
        let tcp = try TCPTestClient(port: client.tunnelPorts[0])
        tcp.write(Array("anyone there?".utf8))
        let result = try await offPool { tcp.readToEnd() }
        XCTAssertEqual(result.bytes, [])
        XCTAssertTrue(result.endedWithReset, "the stream reset reaches the TCP client as RST")
        await client.shutdown()
        await server.shutdown()
        await serving.value
    }
}

final class DaemonConnectionLimitTests: XCTestCase {
    func testMaxConnectionsPerEndpointRefusesTheSecondConnection() async throws {
        let directory = TemporaryDirectory()
        var logger = Logger(label: "limit")
        logger.logLevel = .critical
        let serverPath = directory.write("a.toml", """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[services]]
            name = "one"
            type = "echo"
            [[services]]
            name = "two"
            type = "echo"
            [[hooks]]
            type = "max-connections"
            per_endpoint = 1
            """)
        let server = try await Daemon.start(config: try DaemonConfig.load(path: serverPath), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let peer = "\(server.endpointID.hex)@\(server.localAddresses[0])"
        let clientPath = directory.write("b.toml", """
            [endpoint]
            key_file = "b.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(peer)"
            service = "one"
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(peer)"
            service = "two"
            """)
        let client = try await Daemon.start(config: try DaemonConfig.load(path: clientPath), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let serving = Task { await client.serve() }
        let payload = Array("one connection per peer".utf8)
        let first = try TCPTestClient(port: client.tunnelPorts[0])
        first.write(payload)
        let firstEcho = try await offPool { first.read(count: payload.count) }
        XCTAssertEqual(firstEcho, payload)
        // The first QUIC connection is still open (its stream is), so a second one from the same id is refused.
        let second = try TCPTestClient(port: client.tunnelPorts[1])
        second.write(payload)
        let secondBytes = try await offPool { second.readToEnd().bytes }
        XCTAssertEqual(secondBytes, [])
        XCTAssertEqual(server.registry.count, 1)
        first.shutdownWrite()
        let firstEnd = try await offPool { first.readToEnd().bytes }
        XCTAssertEqual(firstEnd, [])
        await client.shutdown()
        await server.shutdown()
        await serving.value
    }
}

final class DaemonReloadServicesAndTunnelsTests: XCTestCase {
    /// A reload adds and removes tunnels and changes a service's `forward` without touching what stays.
    func testReloadSwapsTunnelsAndServiceSettings() async throws {
        let directory = TemporaryDirectory()
        var logger = Logger(label: "reload")
        logger.logLevel = .critical
        let firstEcho = try TCPEchoServer()
        let secondEcho = try DigestingEchoServer()
        let serverText = { (port: UInt16) in
            """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[services]]
            name = "echo"
            type = "echo"
            [[services]]
            name = "fwd"
            forward = "127.0.0.1:\(port)"
            """
        }
        let serverPath = directory.write("a.toml", serverText(firstEcho.port))
        let server = try await Daemon.start(config: try DaemonConfig.load(path: serverPath), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let peer = "\(server.endpointID.hex)@\(server.localAddresses[0])"
        let tunnel = { (service: String) in "[[tunnels]]\nlisten = \"127.0.0.1:0\"\npeer = \"\(peer)\"\nservice = \"\(service)\"\n" }
        let clientHead = "[endpoint]\nkey_file = \"b.key\"\nlisten = [\"127.0.0.1:0\"]\n[control]\nenabled = false\n"
        let clientPath = directory.write("b.toml", clientHead + tunnel("echo"))
        let client = try await Daemon.start(config: try DaemonConfig.load(path: clientPath), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let serving = Task { await client.serve() }

        let echoPort = client.tunnelPorts[0]
        let kept = try TCPTestClient(port: echoPort)
        kept.write(Array("one".utf8))
        let keptOne = try await offPool { kept.read(count: 3) }
        XCTAssertEqual(keptOne, Array("one".utf8))

        // Add a tunnel to `fwd`: bound by the reload, served at once; the echo tunnel keeps its port and stream.
        directory.write("b.toml", clientHead + tunnel("echo") + tunnel("fwd"))
        let added = await client.reload()
        XCTAssertTrue(added.ok, "\(added)")
        XCTAssertEqual(added.needsRestart, [])
        XCTAssertEqual(client.tunnelPorts.count, 2)
        XCTAssertEqual(client.tunnelPorts[0], echoPort)
        let forwarded = try TCPTestClient(port: client.tunnelPorts[1])
        forwarded.write(Array("two".utf8))
        let forwardedTwo = try await offPool { forwarded.read(count: 3) }
        XCTAssertEqual(forwardedTwo, Array("two".utf8))
        kept.write(Array("three".utf8))
        let keptThree = try await offPool { kept.read(count: 5) }
        XCTAssertEqual(keptThree, Array("three".utf8))

        // The server's `fwd` now forwards to another echo server: the next stream goes there.
        directory.write("a.toml", serverText(secondEcho.port))
        let changed = await server.reload()
        XCTAssertTrue(changed.ok, "\(changed)")
        XCTAssertEqual(changed.needsRestart, [])
        let redirected = try TCPTestClient(port: client.tunnelPorts[1])
        redirected.write(Array("four".utf8))
        redirected.shutdownWrite()
        let redirectedBytes = try await offPool { redirected.readToEnd().bytes }
        XCTAssertEqual(redirectedBytes, Array("four".utf8))
        XCTAssertEqual(secondEcho.digest(of: 0), SHA256.hex(Array("four".utf8)))

        // Remove the echo tunnel: its port stops listening; the fwd tunnel stays.
        let fwdPort = client.tunnelPorts[1]
        directory.write("b.toml", clientHead + tunnel("fwd"))
        let removed = await client.reload()
        XCTAssertTrue(removed.ok, "\(removed)")
        XCTAssertEqual(client.tunnelPorts, [fwdPort])
        XCTAssertThrowsError(try TCPTestClient(port: echoPort))

        // A new service name needs a restart; a tunnel port that cannot be bound fails the reload.
        directory.write("a.toml", serverText(secondEcho.port) + "\n[[services]]\nname = \"new\"\ntype = \"echo\"\n")
        let newService = await server.reload()
        XCTAssertEqual(newService.needsRestart, ["services (new: new)"])
        let busy = try TCPEchoServer()
        directory.write("b.toml", clientHead + tunnel("fwd") + tunnel("echo").replacingOccurrences(of: "127.0.0.1:0", with: "127.0.0.1:\(busy.port)"))
        let clash = await client.reload()
        XCTAssertFalse(clash.ok)
        XCTAssertTrue(clash.error?.contains("b.toml:10: tunnel 'listen'") == true, "\(clash)")
        XCTAssertEqual(client.tunnelPorts, [fwdPort])

        kept.shutdownWrite()
        await client.shutdown()
        await server.shutdown()
        await serving.value
        withExtendedLifetime((firstEcho, secondEcho, busy)) {}
    }
}

final class DaemonIncomingStageTests: XCTestCase {
    /// `deny-ips` and `rate-limit` run in the runtime's incoming filter: a refused attempt never completes a
    /// handshake (CONNECTION_REFUSED, RFC 9000 §20.1), and a later `allow-endpoints` hook never sees it.
    func testAddressHooksRefuseBeforeTheHandshake() async throws {
        let directory = TemporaryDirectory()
        var logger = Logger(label: "incoming")
        logger.logLevel = .critical
        let path = directory.write("a.toml", """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [metrics]
            listen = "127.0.0.1:0"
            [[services]]
            name = "echo"
            type = "echo"
            [[hooks]]
            type = "rate-limit"
            rate = 0.001
            burst = 1
            [[hooks]]
            type = "deny-ips"
            cidrs = ["192.0.2.0/24"]
            [[hooks]]
            type = "allow-endpoints"
            endpoints = ["\(sampleID)"]
            """)
        let daemon = try await Daemon.start(config: try DaemonConfig.load(path: path), logger: logger, notifier: SystemdNotifier(environment: [:]))
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
        let metrics = try await offPool { try httpGet(port: metricsPort, path: "/metrics") }
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="rate-limit-1",outcome="accept"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="rate-limit-1",outcome="reject"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-3",outcome="reject"} 1"#), metrics)
        XCTAssertFalse(metrics.contains(#"ferry_hook_decisions_total{hook="allow-endpoints-3",outcome="accept"}"#), "decisions are counted only where a hook decides")
        await endpoint.close()
        await daemon.shutdown()
        await serving.value
    }
}

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
        let echoed = echo.readToEnd()
        XCTAssertEqual(echoed.bytes, payload)
        XCTAssertFalse(echoed.endedWithReset)

        // TCP forward service: a larger payload through the same QUIC connection.
        let forward = try TCPTestClient(port: client.tunnelPorts[1])
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        forward.write(big)
        let received = forward.read(count: big.count)
        XCTAssertTrue(received == big, "received \(received.count) of \(big.count) bytes")
        forward.shutdownWrite()
        XCTAssertEqual(forward.readToEnd().bytes, [])

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
        let metricsText = try httpGet(port: try XCTUnwrap(server.metricsPort), path: "/metrics")
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
        let refusedResult = refused.readToEnd()
        XCTAssertEqual(refusedResult.bytes, [])
        let rejections = try httpGet(port: try XCTUnwrap(server.metricsPort), path: "/metrics")
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
        XCTAssertEqual(afterReload.readToEnd().bytes, [], "the client is no longer allowed")

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
        let result = tcp.readToEnd()
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
        XCTAssertEqual(first.read(count: payload.count), payload)
        // The first QUIC connection is still open (its stream is), so a second one from the same id is refused.
        let second = try TCPTestClient(port: client.tunnelPorts[1])
        second.write(payload)
        XCTAssertEqual(second.readToEnd().bytes, [])
        XCTAssertEqual(server.registry.count, 1)
        first.shutdownWrite()
        XCTAssertEqual(first.readToEnd().bytes, [])
        await client.shutdown()
        await server.shutdown()
        await serving.value
    }
}

import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// Real `ferryd` processes on loopback (issue 5, "Done when" A–I).
///
/// Readiness, reloads and shutdown are observed on each process's NOTIFY_SOCKET (as systemd would) and its log
/// on stderr; nothing waits by sleeping. A third identity runs in this process as a plain Ferry endpoint, so the
/// test sees the exact CONNECTION_CLOSE code and reason the daemon's policy sends. The executables are found
/// beside the test bundle (`swift test` builds them) or in `$FERRY_BIN_PATH`.
final class FerrydProcessTests: XCTestCase {
    /// A–D, G–I and the metrics and remotes a scrape and `ferry remotes` show.
    func testTunnelTransferPolicyReloadsMetricsAndShutdown() async throws {
        try FerryBinaries.require()
        let directory = TemporaryDirectory()
        let echoServer = try DigestingEchoServer()
        let clientIdentity = EndpointIdentity.generate()
        try clientIdentity.save(toFile: directory.path + "/b.key")
        let strangerIdentity = EndpointIdentity.generate()
        func serverConfig(allowed: [EndpointID], extra: String = "") -> String {
            """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            reevaluate_on_reload = true
            shutdown_timeout = "5s"
            [control]
            socket = "a.sock"
            [metrics]
            listen = "127.0.0.1:0"
            [[services]]
            name = "echo"
            forward = "127.0.0.1:\(echoServer.port)"
            [[hooks]]
            type = "log"
            [[hooks]]
            type = "allow-endpoints"
            endpoints = [\(allowed.map { "\"\($0.hex)\"" }.joined(separator: ", "))]
            \(extra)
            """
        }
        directory.write("a.toml", serverConfig(allowed: [clientIdentity.id]))
        // G: the watchdog pings at half of WATCHDOG_USEC.
        let server = try FerrydProcess(directory: directory, config: "a.toml", environment: ["WATCHDOG_USEC": "2000000"])
        let serverAddress = try server.address()
        directory.write("b.toml", """
            [endpoint]
            key_file = "b.key"
            listen = ["127.0.0.1:0"]
            shutdown_timeout = "5s"
            [control]
            socket = "b.sock"
            [metrics]
            listen = "127.0.0.1:0"
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(serverAddress)"
            service = "echo"
            """)
        let client = try FerrydProcess(directory: directory, config: "b.toml")
        XCTAssertTrue(server.notify.sent("WATCHDOG=1"), "G: WATCHDOG=1 with WATCHDOG_USEC set")

        // I: `ferry status --json` is one JSON object with the daemon's status.
        let statusRun = try runFerry(["status", "--json", "--socket", server.socketPath])
        XCTAssertEqual(statusRun.status, 0, statusRun.error)
        let statusJSON = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(statusRun.output.utf8)) as? [String: Any])
        XCTAssertEqual(statusJSON["ok"] as? Bool, true)
        let statusResult = try XCTUnwrap(statusJSON["result"] as? [String: Any])
        XCTAssertEqual(statusResult["endpoint_id"] as? String, String(serverAddress.prefix(64)))
        XCTAssertEqual(statusResult["pid"] as? Int, Int(server.pid))
        XCTAssertEqual(statusResult["hooks"] as? [String], ["log-1 (log)", "allow-endpoints-2 (allow-endpoints)"])

        // A: 64 MiB through b's tunnel to a's TCP echo service and back, SHA-256 equal in both directions.
        let tunnelPort = try client.tunnelPort()
        let size = 64 << 20
        let transfer = try await offPool { try pumpThroughEcho(port: tunnelPort, count: size) }
        XCTAssertEqual(transfer.receivedCount, size)
        XCTAssertEqual(echoServer.digest(of: 0), transfer.sent, "A: what reached the echo service")
        XCTAssertEqual(transfer.received, transfer.sent, "A: what came back through the tunnel")
        print("64 MiB each way through two ferryd processes in \(String(format: "%.2f", transfer.seconds)) s")

        // B: a third identity, not on the allowlist, is closed with the policy code and a reason naming the hook.
        let stranger = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: strangerIdentity, alpns: [])
        let echoALPN = "ferry/tcp/echo"
        let peer = try EndpointAddress(parsing: serverAddress)
        let refusal = await closeReason(of: stranger, dialing: peer, alpn: echoALPN)
        guard case .applicationClosed(let code, let reason, .peer) = refusal else {
            return XCTFail("B: expected the policy's CONNECTION_CLOSE, got \(String(describing: refusal))")
        }
        XCTAssertEqual(code, policyRejectionCode)
        XCTAssertTrue(reason.hasPrefix("allow-endpoints-2"), reason)

        // A tunnelled TCP connection kept open across every reload below.
        let kept = try TCPTestClient(port: tunnelPort)
        let keptCount = try await offPool { echoLine(kept, "before reloads") }
        XCTAssertEqual(keptCount, "before reloads")
        let tunnelConnections = try server.control.request(ControlRequest(command: "connections"), as: [ControlConnection].self)
        XCTAssertEqual(tunnelConnections.map(\.remoteID), [clientIdentity.id.hex])
        let tunnelConnection = try XCTUnwrap(tunnelConnections.first?.number)

        // C: allowlist edit + SIGHUP: the stranger is accepted; the existing tunnel connection survives.
        directory.write("a.toml", serverConfig(allowed: [clientIdentity.id, strangerIdentity.id]))
        XCTAssertEqual(server.reloadBySignal(), "READY=1\nSTATUS=reloaded")
        let admitted = try await stranger.connect(to: peer, alpn: echoALPN)
        let admittedEcho = try await roundTrip(admitted, "let in after SIGHUP")
        XCTAssertEqual(admittedEcho, "let in after SIGHUP")
        let keptAfterAllowlist = try await offPool { echoLine(kept, "after SIGHUP") }
        XCTAssertEqual(keptAfterAllowlist, "after SIGHUP")
        XCTAssertEqual(try server.status().lastReload?.ok, true)

        // D: an invalid file (via `ferry reload`) keeps the running policy; the error names file, line and key
        // on the control socket, in the CLI's output and in the log.
        directory.write("a.toml", serverConfig(allowed: [clientIdentity.id], extra: "bogus = 1"))
        let badReload = try runFerry(["reload", "--socket", server.socketPath])
        XCTAssertEqual(badReload.status, 1)
        let expectedError = "\(directory.path)/a.toml:18: key 'bogus': unknown key"
        XCTAssertTrue(badReload.output.contains(expectedError) || badReload.error.contains(expectedError), "\(badReload)")
        XCTAssertNotNil(server.notify.next("READY=1\nSTATUS=reload failed"))
        XCTAssertEqual(try server.status().lastReload?.error, expectedError)
        XCTAssertNotNil(server.log.waitFor("reload failed", "a.toml:18"), "D: the log reports the error")
        let stillAdmitted = try await stranger.connect(to: peer, alpn: echoALPN)
        let stillAdmittedEcho = try await roundTrip(stillAdmitted, "old policy kept")
        XCTAssertEqual(stillAdmittedEcho, "old policy kept")
        let checkRun = try runFerry(["check-config", "--socket", server.socketPath])
        XCTAssertEqual(checkRun.status, 1)
        XCTAssertTrue(checkRun.output.contains("a.toml:18"), checkRun.output)

        // reevaluate_on_reload: the stranger dropped from the list is closed with the policy code; the allowed
        // tunnel connection is untouched.
        directory.write("a.toml", serverConfig(allowed: [clientIdentity.id]))
        XCTAssertEqual(server.reloadBySignal(), "READY=1\nSTATUS=reloaded")
        let dropped = await admitted.closed
        guard case .applicationClosed(let droppedCode, _, .peer) = dropped else {
            return XCTFail("expected the policy close on reload, got \(dropped)")
        }
        XCTAssertEqual(droppedCode, policyRejectionCode)
        let keptAfterReevaluation = try await offPool { echoLine(kept, "still allowed") }
        XCTAssertEqual(keptAfterReevaluation, "still allowed")
        let connectionsAfter = try server.control.request(ControlRequest(command: "connections"), as: [ControlConnection].self)
        XCTAssertTrue(connectionsAfter.contains { $0.number == tunnelConnection }, "b's connection was never dropped: \(connectionsAfter)")
        XCTAssertGreaterThanOrEqual(try server.status().lastReload?.closedConnections ?? 0, 1)

        // Metrics, scraped: connections by side, handshake latency histogram, hook decisions by hook and
        // outcome, relayed bytes, reloads.
        let serverMetrics = try FerrydProcess.scrape(port: try server.metricsPort())
        for expected in [
            #"ferry_connections_opened_total{side="server"}"#, #"ferry_connections_active{side="server"}"#,
            #"ferry_hook_decisions_total{hook="allow-endpoints-2",outcome="accept"}"#,
            #"ferry_hook_decisions_total{hook="allow-endpoints-2",outcome="reject"}"#,
            #"ferry_relayed_bytes_total{direction="from_peer"}"#, #"ferry_relayed_bytes_total{direction="to_peer"}"#,
            #"ferry_config_reloads_total{result="error"} 1"#, #"ferry_handshake_duration_seconds_bucket{side="server",le="#,
        ] {
            XCTAssertTrue(serverMetrics.contains(expected), "server metrics lack \(expected):\n\(serverMetrics)")
        }
        let clientMetrics = try FerrydProcess.scrape(port: try client.metricsPort())
        for expected in [
            #"ferry_connections_opened_total{side="client"} 1"#, #"ferry_handshake_duration_seconds_bucket{side="client",le="#,
            #"ferry_handshake_duration_seconds_count{side="client"} 1"#,
        ] {
            XCTAssertTrue(clientMetrics.contains(expected), "client metrics lack \(expected):\n\(clientMetrics)")
        }

        // `ferry remotes --json`: per remote id, connections, RTT, bytes and paths seen.
        let remotesRun = try runFerry(["remotes", "--json", "--socket", server.socketPath])
        XCTAssertEqual(remotesRun.status, 0, remotesRun.error)
        let remotes = try XCTUnwrap(try JSONDecoder().decode(ControlResponse<[ControlRemote]>.self, from: Data(remotesRun.output.utf8)).result)
        let remote = try XCTUnwrap(remotes.first { $0.remoteID == clientIdentity.id.hex })
        XCTAssertEqual(remote.connections, 1)
        XCTAssertGreaterThan(remote.bytesReceived, UInt64(size))
        XCTAssertGreaterThan(remote.bytesSent, UInt64(size))
        XCTAssertNotNil(remote.rttMilliseconds)
        XCTAssertEqual(remote.pathsSeen.count, 1)
        let strangerRemote = try XCTUnwrap(remotes.first { $0.remoteID == strangerIdentity.id.hex })
        XCTAssertEqual(strangerRemote.connections, 0)
        XCTAssertGreaterThanOrEqual(strangerRemote.totalConnections, 2)

        // H: SIGTERM gives STOPPING=1 and exit status 0 within shutdown_timeout (5 s) plus a margin.
        kept.shutdownWrite()
        await stranger.close()
        for daemon in [client, server] {
            let stop = daemon.terminate()
            XCTAssertTrue(stop.stopping, "G: STOPPING=1")
            XCTAssertEqual(stop.status, 0, "H: exit status")
            XCTAssertLessThan(stop.seconds, 7, "H: bounded shutdown")
        }
        XCTAssertTrue(server.log.all.contains { $0.contains("msg=stopped") }, server.log.all.suffix(5).joined(separator: "\n"))
        withExtendedLifetime(echoServer) {}
    }

    /// E: a plugin that denies by id works, and while it is down (killed, failing to restart) `on_error` decides;
    /// it is restarted once it can start again.
    func testPluginDeniesByIDAndOnErrorAppliesWhileItIsDown() async throws {
        try FerryBinaries.require()
        let directory = TemporaryDirectory()
        let denied = EndpointIdentity.generate()
        let allowed = EndpointIdentity.generate()
        directory.write("deny.txt", "# denied ids\n\(denied.id.hex)\n")
        let plugin = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/plugins/deny-list.py").path
        // While `down` exists the plugin cannot start, so the daemon keeps it down and on_error decides.
        let command = "test -e \(directory.path)/down && exit 3; exec python3 \(plugin) \(directory.path)/deny.txt"
        directory.write("a.toml", """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            [control]
            socket = "a.sock"
            [metrics]
            listen = "127.0.0.1:0"
            [[services]]
            name = "echo"
            type = "echo"
            [[hooks]]
            name = "denylist"
            type = "plugin"
            command = ["/bin/sh", "-c", "\(command)"]
            timeout = "5s"
            on_error = "accept"
            """)
        let server = try FerrydProcess(directory: directory, config: "a.toml")
        XCTAssertNotNil(server.log.waitFor("plugin ready"), server.log.all.joined(separator: "\n"))
        let peer = try EndpointAddress(parsing: try server.address())
        let deniedEndpoint = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: denied, alpns: [])
        let allowedEndpoint = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: allowed, alpns: [])

        let refusal = await closeReason(of: deniedEndpoint, dialing: peer, alpn: "ferry/tcp/echo")
        guard case .applicationClosed(let code, let reason, .peer) = refusal else {
            return XCTFail("expected the plugin's rejection, got \(String(describing: refusal))")
        }
        XCTAssertEqual(code, policyRejectionCode)
        XCTAssertTrue(reason.contains("deny list"), reason)
        let welcome = try await allowedEndpoint.connect(to: peer, alpn: "ferry/tcp/echo")
        let welcomeEcho = try await roundTrip(welcome, "not on the list")
        XCTAssertEqual(welcomeEcho, "not on the list")

        // Kill the plugin and keep it from starting again: on_error = "accept" lets the denied id in.
        let started = try XCTUnwrap(server.log.waitFor("plugin started"))
        let pid = try XCTUnwrap(started.split(separator: " ").first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4)) })
        directory.write("down", "")
        XCTAssertEqual(kill(pid, SIGKILL), 0)
        XCTAssertNotNil(server.log.waitFor("plugin exited"))
        let whileDown = try await deniedEndpoint.connect(to: peer, alpn: "ferry/tcp/echo")
        let whileDownEcho = try await roundTrip(whileDown, "on_error accepts")
        XCTAssertEqual(whileDownEcho, "on_error accepts")
        XCTAssertNotNil(server.log.waitFor("restarting plugin"))
        let metrics = try FerrydProcess.scrape(port: try server.metricsPort())
        XCTAssertTrue(metrics.contains(#"ferry_plugin_restarts_total{hook="denylist"}"#), metrics)
        XCTAssertTrue(metrics.contains(#"ferry_hook_decisions_total{hook="denylist",outcome="error"}"#), metrics)

        // Once it can start, the backoff restart brings it back and the denial holds again.
        try FileManager.default.removeItem(atPath: directory.path + "/down")
        XCTAssertNotNil(server.log.waitFor("plugin ready", occurrence: 2), server.log.all.suffix(10).joined(separator: "\n"))
        let refusedAgain = await closeReason(of: deniedEndpoint, dialing: peer, alpn: "ferry/tcp/echo")
        guard case .applicationClosed(policyRejectionCode, _, .peer) = refusedAgain else {
            return XCTFail("expected the restarted plugin's rejection, got \(String(describing: refusedAgain))")
        }

        await deniedEndpoint.close()
        await allowedEndpoint.close()
        let stop = server.terminate()
        XCTAssertEqual(stop.status, 0)
    }

    /// F: `ferryd --check-config` exits non-zero with file, line and key; a valid file prints OK.
    func testCheckConfigErrorsCarryLineNumbers() throws {
        try FerryBinaries.require()
        let directory = TemporaryDirectory()
        let cases: [(text: String, expected: String)] = [
            ("[endpoint]\nlisten = [\"127.0.0.1:0\"]\nbogus = 1\n", "bad.toml:3: key 'bogus': unknown key"),
            ("[endpoint]\nlisten = \"127.0.0.1:0\"\n", "bad.toml:2: key 'listen'"),
            ("[[hooks]]\ntype = \"allow-ips\"\n\ncidrs = [\"10.0.0.0/33\"]\n", "bad.toml:4: key 'cidrs'"),
            ("[[hooks]]\ntype = \"allow-endpoints\"\nendpoints = [\"abc\"]\n", "bad.toml:3: key 'endpoints'"),
        ]
        for (text, expected) in cases {
            let path = directory.write("bad.toml", text)
            let run = try runProcess(FerryBinaries.ferryd, ["--check-config", path])
            XCTAssertEqual(run.status, 1, text)
            XCTAssertTrue(run.error.contains(expected), "expected \(expected) in: \(run.error)")
        }
        let good = directory.write("good.toml", "[endpoint]\nlisten = [\"127.0.0.1:0\"]\n[[services]]\nname = \"echo\"\ntype = \"echo\"\n")
        let run = try runProcess(FerryBinaries.ferryd, ["--check-config", good])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertTrue(run.output.hasPrefix("\(good): OK"), run.output)
    }

    // MARK: Helpers

    /// Dials and returns how the connection ended (nil if it stayed open for the hooks' verdict… it never does
    /// here: a refused connection is closed by the peer right after the handshake).
    private func closeReason(of endpoint: Endpoint, dialing peer: EndpointAddress, alpn: String) async -> ConnectionCloseReason? {
        do {
            let connection = try await endpoint.connect(to: peer, alpn: alpn)
            return await connection.closed
        } catch {
            if case .closed(let reason) = error { return reason }
            return nil
        }
    }

    /// Writes `text` on a new stream, finishes it and reads the answer to its end.
    private func roundTrip(_ connection: Connection, _ text: String) async throws -> String {
        let (send, receive) = try await connection.openBidirectionalStream()
        try await send.write(Array(text.utf8), finish: true)
        let answer = try await receive.readToEnd(limit: 1 << 20)
        return String(decoding: answer, as: UTF8.self)
    }
}

/// Writes `text` on a tunnelled TCP connection and reads the same number of bytes back.
private func echoLine(_ client: TCPTestClient, _ text: String) -> String {
    client.write(Array(text.utf8))
    return String(decoding: client.read(count: text.utf8.count), as: UTF8.self)
}

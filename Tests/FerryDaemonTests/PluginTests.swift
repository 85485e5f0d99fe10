import Ferry
import Foundation
import Logging
import XCTest

@testable import FerryDaemon

/// The plugin protocol against real child processes: the shipped deny-list example, a crashing plugin, a slow one.
final class PluginTests: XCTestCase {
    let logger: Logger = {
        var logger = Logger(label: "plugin-test")
        logger.logLevel = .critical
        return logger
    }()

    var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func makeHook(_ client: PluginClient, onError: DaemonConfig.PluginErrorPolicy, metrics: DaemonMetrics) -> PluginHook {
        PluginHook(
            context: PolicyHookContext(name: client.name, type: "plugin", services: nil, recorder: DecisionRecorder(logger: logger, metrics: metrics)),
            client: client,
            onError: onError
        )
    }

    func subject(_ hex: String, address: String = "10.0.0.1") -> PolicySubject {
        PolicySubject(remoteID: EndpointID(hex: hex)!, alpn: "ferry/tcp/ssh", side: .server, remoteAddress: HostPort(host: address, port: 1))
    }

    func testDenyListExampleAnswersConcurrentRequests() async throws {
        let directory = TemporaryDirectory()
        let list = directory.write("deny.txt", "# test\n\(otherID)\n192.0.2.7 # bad host\n")
        let metrics = DaemonMetrics()
        let client = PluginClient(
            command: [repositoryRoot + "/Config/plugins/deny-list.py", list],
            name: "deny-list",
            timeout: .seconds(5),
            logger: logger,
            metrics: metrics
        )
        client.start()
        defer { client.stop() }
        let ready = await client.waitUntilReady(limit: .seconds(10))
        XCTAssertTrue(ready)
        let hook = makeHook(client, onError: .reject, metrics: metrics)
        let allowedSubject = subject(sampleID)
        let deniedSubject = subject(otherID)
        async let allowed = hook.check(allowedSubject)
        async let denied = hook.check(deniedSubject)
        async let badAddress = hook.checkIncoming(IncomingInfo(
            remoteAddress: HostPort(host: "192.0.2.7", port: 9),
            localAddress: HostPort(host: "0.0.0.0", port: 1),
            isAddressValidated: false,
            alpns: []
        ))
        let results = await (allowed, denied, badAddress)
        XCTAssertEqual(results.0, .accept)
        XCTAssertEqual(results.1, .reject(reason: "endpoint is on the deny list"))
        XCTAssertEqual(results.2, .reject(reason: "address is on the deny list"))
    }

    func testCrashingPluginIsRestartedAndOnErrorApplies() async throws {
        let directory = TemporaryDirectory()
        // Answers hello, then exits on the first check without answering.
        let script = directory.write("crash.sh", """
            #!/bin/sh
            read hello
            echo '{"type":"hello","version":1}'
            read check
            exit 3
            """, mode: 0o755)
        let metrics = DaemonMetrics()
        let client = PluginClient(command: [script], name: "crashy", timeout: .seconds(5), logger: logger, metrics: metrics)
        client.start()
        defer { client.stop() }
        let firstReady = await client.waitUntilReady(limit: .seconds(10))
        XCTAssertTrue(firstReady)
        let failClosed = makeHook(client, onError: .reject, metrics: metrics)
        let verdict = await failClosed.check(subject(sampleID))
        XCTAssertEqual(verdict, .reject(reason: "plugin crashy exited"))
        // It comes back after the backoff.
        let readyAgain = await client.waitUntilReady(limit: .seconds(10))
        XCTAssertTrue(readyAgain)
        XCTAssertGreaterThanOrEqual(client.restartCount, 1)
        XCTAssertTrue(metrics.render().contains(#"ferry_plugin_restarts_total{hook="crashy"}"#))
        let failOpen = makeHook(client, onError: .accept, metrics: metrics)
        let opened = await failOpen.check(subject(sampleID))
        XCTAssertEqual(opened, .accept)
    }

    func testSlowPluginTimesOutAndWrongVersionNeverBecomesReady() async throws {
        let directory = TemporaryDirectory()
        let slow = directory.write("slow.sh", "#!/bin/sh\nread hello\necho '{\"type\":\"hello\",\"version\":1}'\nsleep 30\n", mode: 0o755)
        let metrics = DaemonMetrics()
        let client = PluginClient(command: [slow], name: "slow", timeout: .milliseconds(200), logger: logger, metrics: metrics)
        client.start()
        defer { client.stop() }
        let ready = await client.waitUntilReady(limit: .seconds(10))
        XCTAssertTrue(ready)
        let answer = await client.ask(PluginRequest(type: "check", stage: "incoming"))
        XCTAssertEqual(answer, .timedOut)

        let future = directory.write("v2.sh", "#!/bin/sh\nread hello\necho '{\"type\":\"hello\",\"version\":2}'\nsleep 30\n", mode: 0o755)
        let mismatched = PluginClient(command: [future], name: "v2", timeout: .seconds(1), logger: logger, metrics: metrics)
        mismatched.start()
        defer { mismatched.stop() }
        let mismatchedReady = await mismatched.waitUntilReady(limit: .milliseconds(500))
        XCTAssertFalse(mismatchedReady)
        let refused = await mismatched.ask(PluginRequest(type: "check", stage: "incoming"))
        XCTAssertEqual(refused, .unavailable("plugin v2 is not running"))
    }
}

final class PluginCloseCodeTests: XCTestCase {
    /// A plugin's `code` becomes the CONNECTION_CLOSE code the peer sees; incoming checks it accepts.
    func testPluginRejectionCodeReachesThePeer() async throws {
        let directory = TemporaryDirectory()
        let script = directory.write("legal.sh", """
            #!/bin/sh
            read hello
            echo '{"type":"hello","version":1}'
            while read line; do
              id=$(echo "$line" | sed 's/.*"id":\\([0-9]*\\).*/\\1/')
              case "$line" in
                *after_handshake*) echo "{\\"id\\":$id,\\"decision\\":\\"reject\\",\\"reason\\":\\"not here\\",\\"code\\":451}" ;;
                *) echo "{\\"id\\":$id,\\"decision\\":\\"accept\\"}" ;;
              esac
            done
            """, mode: 0o755)
        let path = directory.write("a.toml", """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            [control]
            enabled = false
            [[services]]
            name = "echo"
            type = "echo"
            [[hooks]]
            name = "legal"
            type = "plugin"
            command = ["\(script)"]
            """)
        var logger = Logger(label: "plugin-code")
        logger.logLevel = .critical
        let daemon = try await Daemon.start(config: try DaemonConfig.load(path: path), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let endpoint = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: EndpointIdentity.generate(), alpns: [])
        let peer = EndpointAddress(id: daemon.endpointID, directAddresses: [daemon.localAddresses[0]])
        var reason: ConnectionCloseReason?
        do {
            let connection = try await endpoint.connect(to: peer, alpn: "ferry/tcp/echo")
            reason = await connection.closed
        } catch {
            if case .closed(let closed) = error { reason = closed }
        }
        XCTAssertEqual(reason, .applicationClosed(errorCode: 451, reason: "legal: not here", by: .peer))
        await endpoint.close()
        await daemon.shutdown()
    }
}

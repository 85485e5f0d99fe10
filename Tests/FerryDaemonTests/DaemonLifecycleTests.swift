import Foundation
import Logging
import XCTest

@testable import FerryDaemon

/// `Daemon.run()` under its ServiceGroup: systemd notifications around start, SIGHUP reload and SIGTERM.
final class DaemonLifecycleTests: XCTestCase {
    func testNotifyReadyReloadOnSIGHUPAndStopOnSIGTERM() async throws {
        let directory = TemporaryDirectory()
        let notify = try NotifySocket(abstract: true)
        let path = directory.write("d.toml", """
            [endpoint]
            key_file = "d.key"
            listen = ["127.0.0.1:0"]
            [control]
            socket = "d.sock"
            [[services]]
            name = "echo"
            type = "echo"
            """)
        let config = try DaemonConfig.load(path: path)
        var logger = Logger(label: "lifecycle")
        logger.logLevel = .warning
        let daemon = try await Daemon.start(
            config: config,
            logger: logger,
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "600000"])
        )
        let running = Task { try await daemon.run() }

        // The watchdog pings at half WATCHDOG_USEC; READY=1 comes once everything is bound.
        var messages: [String] = []
        while !messages.contains(where: { $0.hasPrefix("READY=1") }), let message = notify.receive() {
            messages.append(message)
        }
        XCTAssertTrue(messages.contains { $0.hasPrefix("READY=1\nSTATUS=serving on 127.0.0.1:") }, "\(messages)")

        // SIGHUP reloads (here with an invalid file: the running configuration stays and the error is reported).
        directory.write("d.toml", "[endpoint]\nlisten = 7\n")
        kill(getpid(), SIGHUP)
        let reloading = try XCTUnwrap(nextMessage(notify, notWatchdog: true))
        XCTAssertTrue(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), reloading)
        let ready = try XCTUnwrap(nextMessage(notify, notWatchdog: true))
        XCTAssertEqual(ready, "READY=1\nSTATUS=reload failed: \(path):2: key 'listen': expected an array of strings, found an integer")
        let status = try ControlClient(path: directory.path + "/d.sock").request(ControlRequest(command: "status"), as: ControlStatus.self)
        XCTAssertEqual(status.lastReload?.ok, false)
        XCTAssertEqual(status.services, ["echo (ferry/tcp/echo)"])

        // SIGTERM: STOPPING=1, then run() returns.
        kill(getpid(), SIGTERM)
        let stopping = try XCTUnwrap(nextMessage(notify, notWatchdog: true))
        XCTAssertEqual(stopping, "STOPPING=1")
        try await running.value
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path + "/d.sock"))
    }

    private func nextMessage(_ socket: NotifySocket, notWatchdog: Bool) -> String? {
        while let message = socket.receive() {
            if notWatchdog, message == "WATCHDOG=1" { continue }
            return message
        }
        return nil
    }
}

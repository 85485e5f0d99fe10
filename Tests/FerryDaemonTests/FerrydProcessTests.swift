import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// Two real `ferryd` processes: a TCP echo through a tunnel, allowlist rejection, SIGHUP reload, SIGTERM.
///
/// Needs the `ferryd` and `ferry` executables next to the test bundle (`swift test` builds them; with a
/// test-product-only build run `swift build --product ferryd` and `--product ferry` with the same scratch path
/// first). Readiness and reloads are
/// observed through each process's NOTIFY_SOCKET, as systemd would.
final class FerrydProcessTests: XCTestCase {
    enum LaunchError: Error {
        /// The daemon did not send READY=1 within the notify socket's receive timeout.
        case notReady(String)
    }

    struct RunningDaemon {
        let process: Process
        let notify: NotifySocket
        let control: ControlClient

        func waitFor(_ prefix: String) -> String? {
            while let message = notify.receive() {
                if message.hasPrefix(prefix) { return message }
            }
            return nil
        }
    }

    var ferrydPath: String {
        // The test executable (Linux) or bundle (macOS) sits in the build products directory, beside ferryd.
        var directory = Bundle(for: FerrydProcessTests.self).bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        if let executable = Bundle.main.executableURL, executable.pathExtension == "xctest" {
            directory = executable.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("ferryd").path
    }

    /// Runs the `ferry` CLI (built beside ferryd) and returns its exit status and stdout.
    func runFerry(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: (ferrydPath as NSString).deletingLastPathComponent + "/ferry")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func launch(_ directory: TemporaryDirectory, config name: String) throws -> RunningDaemon {
        let notify = try NotifySocket(abstract: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ferrydPath)
        process.arguments = ["--config", directory.path + "/" + name]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.name
        environment.removeValue(forKey: "STATE_DIRECTORY")
        environment.removeValue(forKey: "RUNTIME_DIRECTORY")
        process.environment = environment
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let socket = directory.path + "/" + name.replacingOccurrences(of: ".toml", with: ".sock")
        let daemon = RunningDaemon(process: process, notify: notify, control: ControlClient(path: socket))
        guard daemon.waitFor("READY=1") != nil else {
            process.terminate()
            throw LaunchError.notReady(name)
        }
        return daemon
    }

    func testTwoDaemonsTunnelAllowlistReloadAndStop() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: ferrydPath), "build ferryd first: \(ferrydPath)")
        guard FileManager.default.isExecutableFile(atPath: ferrydPath) else { return }
        let directory = TemporaryDirectory()
        let clientIdentity = EndpointIdentity.generate()
        try clientIdentity.save(toFile: directory.path + "/b.key")
        let strangerIdentity = EndpointIdentity.generate()
        try strangerIdentity.save(toFile: directory.path + "/c.key")
        let serverConfig = """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:0"]
            reevaluate_on_reload = true
            [control]
            socket = "a.sock"
            [[services]]
            name = "echo"
            type = "echo"
            [[hooks]]
            type = "allow-endpoints"
            endpoints = ["\(clientIdentity.id.hex)"]
            """
        directory.write("a.toml", serverConfig)
        let server = try launch(directory, config: "a.toml")
        defer { if server.process.isRunning { server.process.terminate() } }
        let serverStatus = try server.control.request(ControlRequest(command: "status"), as: ControlStatus.self)
        let serverAddress = "\(serverStatus.endpointID)@\(serverStatus.listen[0])"

        func tunnelConfig(key: String, socket: String) -> String {
            """
            [endpoint]
            key_file = "\(key)"
            listen = ["127.0.0.1:0"]
            [control]
            socket = "\(socket)"
            [[tunnels]]
            listen = "127.0.0.1:0"
            peer = "\(serverAddress)"
            service = "echo"
            """
        }
        directory.write("b.toml", tunnelConfig(key: "b.key", socket: "b.sock"))
        directory.write("c.toml", tunnelConfig(key: "c.key", socket: "c.sock"))
        let client = try launch(directory, config: "b.toml")
        defer { if client.process.isRunning { client.process.terminate() } }
        let stranger = try launch(directory, config: "c.toml")
        defer { if stranger.process.isRunning { stranger.process.terminate() } }

        func tunnelPort(_ daemon: RunningDaemon) throws -> Int {
            let status = try daemon.control.request(ControlRequest(command: "status"), as: ControlStatus.self)
            let listen = try XCTUnwrap(status.tunnels.first?.split(separator: " ").first)
            return try XCTUnwrap(Int(try XCTUnwrap(listen.split(separator: ":").last)))
        }

        // The ferry CLI against the same control socket.
        let cliStatus = try runFerry(["status", "--json", "--socket", directory.path + "/a.sock"])
        XCTAssertEqual(cliStatus.status, 0)
        XCTAssertTrue(cliStatus.output.hasPrefix(#"{"ok":true,"result":{"config_file":"#), cliStatus.output)
        let cliCheck = try runFerry(["check-config", "--socket", directory.path + "/a.sock", "--path", directory.path + "/missing.toml"])
        XCTAssertEqual(cliCheck.status, 1)

        // TCP echo through the tunnel, ending with a half-close.
        let payload = Array("ping over two ferryd processes".utf8)
        let echo = try TCPTestClient(port: try tunnelPort(client))
        echo.write(payload)
        echo.shutdownWrite()
        XCTAssertEqual(echo.readToEnd().bytes, payload)

        // The stranger is not on the allowlist.
        let refused = try TCPTestClient(port: try tunnelPort(stranger))
        refused.write(payload)
        XCTAssertEqual(refused.readToEnd().bytes, [])

        // SIGHUP with the client removed from the allowlist: RELOADING=1, READY=1, and the client is cut off.
        directory.write("a.toml", serverConfig.replacingOccurrences(of: clientIdentity.id.hex, with: strangerIdentity.id.hex))
        kill(server.process.processIdentifier, SIGHUP)
        XCTAssertNotNil(server.waitFor("RELOADING=1"))
        XCTAssertEqual(server.waitFor("READY=1"), "READY=1\nSTATUS=reloaded")
        let reloadStatus = try server.control.request(ControlRequest(command: "status"), as: ControlStatus.self)
        XCTAssertEqual(reloadStatus.lastReload?.ok, true)
        let cutOff = try TCPTestClient(port: try tunnelPort(client))
        cutOff.write(payload)
        XCTAssertEqual(cutOff.readToEnd().bytes, [])
        // …and the stranger is now let in.
        let admitted = try TCPTestClient(port: try tunnelPort(stranger))
        admitted.write(payload)
        admitted.shutdownWrite()
        XCTAssertEqual(admitted.readToEnd().bytes, payload)

        // SIGTERM: STOPPING=1 and a clean exit.
        for daemon in [stranger, client, server] {
            kill(daemon.process.processIdentifier, SIGTERM)
            XCTAssertNotNil(daemon.waitFor("STOPPING=1"))
            daemon.process.waitUntilExit()
            XCTAssertEqual(daemon.process.terminationStatus, 0)
        }
    }
}

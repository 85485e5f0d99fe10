import Foundation
import Logging
import XCTest

@testable import FerryDaemon

/// The control socket's wire protocol: file mode, several requests per connection, malformed lines, metrics 404.
final class ControlSocketTests: XCTestCase {
    func testLineProtocolAndSocketMode() async throws {
        let directory = TemporaryDirectory()
        let path = directory.write("d.toml", """
            [endpoint]
            key_file = "d.key"
            listen = ["127.0.0.1:0"]
            [control]
            socket = "d.sock"
            [metrics]
            listen = "127.0.0.1:0"
            [[services]]
            name = "echo"
            type = "echo"
            """)
        var logger = Logger(label: "control")
        logger.logLevel = .critical
        let daemon = try await Daemon.start(config: try DaemonConfig.load(path: path), logger: logger, notifier: SystemdNotifier(environment: [:]))
        let serving = Task { await daemon.serve() }

        var info = stat()
        XCTAssertEqual(stat(directory.path + "/d.sock", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)

        // Two requests and a malformed line in one write; three answers in order.
        let socket = try UnixTestClient(path: directory.path + "/d.sock")
        socket.write("{\"command\":\"status\"}\n{\"command\":\"check-config\"}\nnot json\n")
        let answers = try await offPool { socket.readLines(3) }
        XCTAssertEqual(answers.count, 3)
        XCTAssertTrue(answers[0].hasPrefix(#"{"ok":true,"result":{"config_file":"#), answers[0])
        XCTAssertEqual(answers[1], #"{"ok":true,"result":{"message":"\#(path): OK (1 services, 0 tunnels, 0 hooks)","ok":true}}"#)
        XCTAssertTrue(answers[2].hasPrefix(#"{"ok":false,"error":"malformed request"#), answers[2])

        let metricsPort = try XCTUnwrap(daemon.metricsPort)
        let notFound = try await offPool { try httpGet(port: metricsPort, path: "/other") }
        XCTAssertTrue(notFound.hasPrefix("HTTP/1.1 404 Not Found"), notFound)
        let metrics = try await offPool { try httpGet(port: metricsPort, path: "/metrics") }
        XCTAssertTrue(metrics.contains("Content-Type: text/plain; version=0.0.4"), metrics)

        await daemon.shutdown()
        await serving.value
    }

    func testReloadAppliesLogLevelAndListsRestartOnlyChanges() async throws {
        let directory = TemporaryDirectory()
        let text = "[endpoint]\nkey_file = \"e.key\"\nlisten = [\"127.0.0.1:0\"]\n[control]\nenabled = false\n[logging]\nlevel = \"warning\"\n"
        let path = directory.write("e.toml", text)
        let control = LogLevelControl(.warning)
        var logger = Daemon.makeLogger(.init(format: .logfmt, level: .warning), levelControl: control)
        logger.logLevel = .warning
        let daemon = try await Daemon.start(
            config: try DaemonConfig.load(path: path), logger: logger, logLevelControl: control, notifier: SystemdNotifier(environment: [:])
        )
        directory.write("e.toml", text.replacingOccurrences(of: "\"warning\"", with: "\"debug\"\nformat = \"json\""))
        let result = await daemon.reload()
        XCTAssertTrue(result.ok, "\(result)")
        XCTAssertEqual(control.level, .debug)
        XCTAssertEqual(daemon.logger.logLevel, .debug)
        XCTAssertEqual(result.needsRestart, ["logging.format"])
        await daemon.shutdown()
    }
}

/// A blocking Unix stream socket client for raw protocol tests.
final class UnixTestClient: @unchecked Sendable {
    let descriptor: Int32
    private var buffer: [UInt8] = []

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(descriptor) }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads up to `count` newline-terminated lines (fewer on EOF or timeout).
    func readLines(_ count: Int) -> [String] {
        var lines: [String] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while lines.count < count {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
                buffer.removeSubrange(...newline)
                continue
            }
            let received = recv(descriptor, &chunk, chunk.count, 0)
            guard received > 0 else { break }
            buffer.append(contentsOf: chunk[0..<received])
        }
        return lines
    }
}

import Foundation
import XCTest

@testable import FerryDaemon

/// A Unix datagram socket standing in for systemd's notification socket.
final class NotifySocket {
    let descriptor: Int32
    /// The value for NOTIFY_SOCKET.
    let name: String

    init(abstract: Bool) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        let unique = "fdn-\(getpid())-\(UUID().uuidString.prefix(8))"
        name = abstract ? "@" + unique : NSTemporaryDirectory() + unique
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = 2 + bytes.count + (abstract ? 0 : 1)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        guard result == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(descriptor)
        if !name.hasPrefix("@") { unlink(name) }
    }

    /// The next datagram, or nil after the 5 s receive timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

final class SystemdNotifierTests: XCTestCase {
    func testMessagesOnPathSocket() throws {
        let socket = try NotifySocket(abstract: false)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.name])
        XCTAssertTrue(notifier.ready(status: "serving"))
        XCTAssertEqual(socket.receive(), "READY=1\nSTATUS=serving")
        XCTAssertTrue(notifier.reloading())
        let reloading = try XCTUnwrap(socket.receive())
        XCTAssertTrue(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), reloading)
        let usec = UInt64(reloading.split(separator: "=").last ?? "") ?? 0
        XCTAssertGreaterThan(usec, 0)
        XCTAssertLessThanOrEqual(usec, SystemdNotifier.monotonicMicroseconds())
        XCTAssertTrue(notifier.stopping())
        XCTAssertEqual(socket.receive(), "STOPPING=1")
        XCTAssertTrue(notifier.watchdog())
        XCTAssertEqual(socket.receive(), "WATCHDOG=1")
    }

    func testAbstractNamespaceSocket() throws {
        let socket = try NotifySocket(abstract: true)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.name])
        XCTAssertTrue(notifier.ready())
        XCTAssertEqual(socket.receive(), "READY=1")
    }

    func testWatchdogIntervalIsHalfOfWatchdogUSec() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000"])
        XCTAssertEqual(notifier.watchdogInterval, .seconds(2))
        let otherProcess = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"])
        XCTAssertNil(otherProcess.watchdogInterval, "the watchdog is meant for another process")
    }

    func testDisabledWithoutNotifySocket() {
        let notifier = SystemdNotifier(environment: [:])
        XCTAssertFalse(notifier.isEnabled)
        XCTAssertFalse(notifier.ready())
    }

    func testLogFormats() {
        let fields = [("level", "info"), ("msg", "hook decision"), ("reason", "say \"no\"")]
        XCTAssertEqual(DaemonLogHandler.render(fields, format: .logfmt), #"level=info msg="hook decision" reason="say \"no\"""#)
        XCTAssertEqual(DaemonLogHandler.render(fields, format: .json), #"{"level":"info","msg":"hook decision","reason":"say \"no\""}"#)
    }
}

final class ControlFormattingTests: XCTestCase {
    func testTablesAndUnits() {
        let text = ControlFormatting.connections([
            ControlConnection(
                number: 3, remoteID: sampleID, remoteAddress: "127.0.0.1:4000", alpn: "ferry/tcp/ssh", service: "ssh",
                side: "server", since: "2026-11-23T08:00:00Z", rttMilliseconds: 1.25, bytesSent: 2048, bytesReceived: 17
            ),
        ])
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("#  REMOTE      ADDRESS"), String(lines[0]))
        XCTAssertTrue(lines[1].contains("abababab"))
        XCTAssertTrue(lines[1].contains("1.2ms") || lines[1].contains("1.3ms"))
        XCTAssertTrue(lines[1].contains("2.0KiB"))
        XCTAssertTrue(lines[1].contains("17B"))
        XCTAssertEqual(ControlFormatting.duration(3725), "1h2m")
    }

    func testSocketPathResolution() throws {
        XCTAssertEqual(try ControlClient.socketPath(explicit: "/x.sock", configPath: nil), "/x.sock")
        XCTAssertEqual(try ControlClient.socketPath(explicit: nil, configPath: nil, environment: ["FERRYD_SOCKET": "/y.sock"]), "/y.sock")
        let directory = TemporaryDirectory()
        let config = directory.write("f.toml", "[control]\nsocket = \"z.sock\"\n")
        XCTAssertEqual(try ControlClient.socketPath(explicit: nil, configPath: config, environment: [:]), directory.path + "/z.sock")
    }
}

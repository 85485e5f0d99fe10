import Ferry
import Foundation
import Logging

@testable import FerryDaemon

/// Pieces of `ferryd` TOML for in-process daemon tests, so each test spells out only the tables it is about.
///
/// Every piece ends with a newline, so pieces concatenate line by line and the line numbers a test asserts in
/// an error message stay easy to count.
enum DaemonTOML {
    /// `[endpoint]` on an ephemeral loopback port (plus `extra` lines), then `[control]`: disabled unless
    /// `controlSocket` names a socket.
    static func endpoint(keyFile: String, extra: [String] = [], controlSocket: String? = nil) -> String {
        let control = controlSocket.map { "socket = \"\($0)\"" } ?? "enabled = false"
        return lines(["[endpoint]", "key_file = \"\(keyFile)\"", "listen = [\"127.0.0.1:0\"]"] + extra
            + ["[control]", control])
    }

    /// `[metrics]` on an ephemeral loopback port.
    static let metrics = lines(["[metrics]", "listen = \"127.0.0.1:0\""])

    /// A built-in service (`type = "echo"`).
    static func service(_ name: String, type: String) -> String {
        lines(["[[services]]", "name = \"\(name)\"", "type = \"\(type)\""])
    }

    /// A service forwarding to a TCP port on 127.0.0.1.
    static func service(_ name: String, forwardTo port: UInt16) -> String {
        lines(["[[services]]", "name = \"\(name)\"", "forward = \"127.0.0.1:\(port)\""])
    }

    /// A tunnel from a TCP listener (ephemeral loopback port unless `listen` says otherwise) to `service` at `peer`.
    static func tunnel(to peer: String, service: String, listen: String = "127.0.0.1:0") -> String {
        lines(["[[tunnels]]", "listen = \"\(listen)\"", "peer = \"\(peer)\"", "service = \"\(service)\""])
    }

    /// A `[[hooks]]` table of `type` with its settings lines (`key = value`, already TOML).
    static func hook(_ type: String, _ settings: String...) -> String {
        lines(["[[hooks]]", "type = \"\(type)\""] + settings)
    }

    private static func lines(_ lines: [String]) -> String {
        lines.map { $0 + "\n" }.joined()
    }
}

/// Writes `text` as `name` in `directory` and starts a daemon from it (not yet serving).
///
/// Logs at `level` (at debug when `FERRYD_TEST_LOG` is set) so a failing run can be replayed with the log on.
func startDaemon(
    in directory: TemporaryDirectory,
    _ name: String,
    _ text: String,
    logLevel level: Logger.Level = .critical
) async throws -> Daemon {
    let config = try DaemonConfig.load(path: directory.write(name, text))
    var logger = Logger(label: name)
    logger.logLevel = ProcessInfo.processInfo.environment["FERRYD_TEST_LOG"] == nil ? level : .debug
    return try await Daemon.start(config: config, logger: logger, notifier: SystemdNotifier(environment: [:]))
}

extension Daemon {
    /// `ID@ip:port` of the first endpoint, as a tunnel's `peer` names it.
    var peerAddress: String { "\(endpointID.hex)@\(localAddresses[0])" }
}

/// Shuts `daemons` down in order, then waits for every `serving` task: the teardown each test ends with.
func shutDown(_ daemons: Daemon..., serving: Task<Void, Never>...) async {
    for daemon in daemons { await daemon.shutdown() }
    for task in serving { await task.value }
}

/// A Prometheus scrape of `/metrics` on `port`, off the cooperative pool.
func scrapeMetrics(port: Int) async throws -> String {
    try await offPool { try httpGet(port: port, path: "/metrics") }
}

/// A minimal blocking HTTP GET returning the raw response.
func httpGet(port: Int, path: String) throws -> String {
    let client = try TCPTestClient(port: port)
    client.write(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
    return String(decoding: client.readToEnd().bytes, as: UTF8.self)
}

extension TCPTestClient {
    /// Connects to `port`, sends `bytes` (then half-closes when `halfClose`), and reads until the tunnel ends the
    /// connection: what came back and whether it ended with a reset.
    static func exchange(
        port: Int,
        _ bytes: [UInt8],
        halfClose: Bool = false
    ) async throws -> (bytes: [UInt8], endedWithReset: Bool) {
        let client = try TCPTestClient(port: port)
        client.write(bytes)
        if halfClose { client.shutdownWrite() }
        return try await offPool { client.readToEnd() }
    }

    /// Sends `bytes` and reads as many back (fewer at EOF or the timeout), keeping the connection open.
    func roundTrip(_ bytes: [UInt8]) async throws -> [UInt8] {
        write(bytes)
        return try await offPool { self.read(count: bytes.count) }
    }

    /// Half-closes and reads what is left until EOF (or the timeout).
    func finish() async throws -> [UInt8] {
        shutdownWrite()
        return try await offPool { self.readToEnd().bytes }
    }
}

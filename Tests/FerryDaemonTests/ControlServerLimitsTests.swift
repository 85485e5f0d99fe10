import Foundation
import Logging
import NIOPosix
import XCTest

@testable import FerryDaemon

/// The control socket drops clients that go quiet and caps how many it serves, and the client gives up on a
/// daemon that does not answer.
final class ControlServerLimitsTests: XCTestCase {
    /// A Unix stream socket connected to `path`, with a receive timeout; -1 on failure.
    private static func connectRaw(_ path: String, timeoutSeconds: Int = 10) -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var limit = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return connected == 0 ? descriptor : -1
    }

    /// Reads until EOF (0), an error or the receive timeout (-1).
    private static func readUntilClosed(_ descriptor: Int32) -> Int {
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return count }
        }
    }

    func testQuietClientsAreDroppedAndTheLimitHolds() async throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/c.sock"
        let server = try await ControlServer.bind(
            path: path, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"),
            idleTimeout: .seconds(1), maximumConnections: 2
        ) { _ in #"{"ok":true,"result":{}}"# }
        let task = Task { await server.run() }

        // Three quiet clients at once against a limit of two: one is closed at accept, the two admitted ones after
        // the idle timeout. Which one is refused depends on the order the event loops hand them over, so count.
        let quiet = [Self.connectRaw(path), Self.connectRaw(path), Self.connectRaw(path)]
        XCTAssertTrue(quiet.allSatisfy { $0 >= 0 })
        let endings = try await withThrowingTaskGroup(of: (ended: Int, seconds: Double).self) { group in
            for descriptor in quiet {
                group.addTask {
                    let started = Date()
                    let ended = try await offPool { Self.readUntilClosed(descriptor) }
                    return (ended, Date().timeIntervalSince(started))
                }
            }
            return try await group.reduce(into: [(ended: Int, seconds: Double)]()) { $0.append($1) }
        }
        for descriptor in quiet { close(descriptor) }
        XCTAssertTrue(endings.allSatisfy { $0.ended == 0 }, "every one ends with EOF, not the 10 s receive timeout")
        XCTAssertEqual(endings.filter { $0.seconds < 0.5 }.count, 1, "one closed at accept: \(endings)")
        XCTAssertEqual(endings.filter { $0.seconds >= 0.8 && $0.seconds < 5 }.count, 2, "two after the idle timeout")
        // Then a real request is served.
        let line = try await Task.detached { try ControlClient(path: path).rawRequest(ControlRequest(command: "status")) }.value
        XCTAssertEqual(line, #"{"ok":true,"result":{}}"#)
        server.close()
        await task.value
    }

    func testTheClientGivesUpOnADaemonThatDoesNotAnswer() async throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/h.sock"
        let server = try await ControlServer.bind(
            path: path, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test")
        ) { _ in
            try? await Task.sleep(for: .seconds(30))  // a hung handler
            return "{}"
        }
        let task = Task { await server.run() }
        let started = Date()
        let result = await Task.detached { () -> ControlClientError? in
            do throws(ControlClientError) {
                _ = try ControlClient(path: path, timeout: .seconds(1)).rawRequest(ControlRequest(command: "status"))
                return nil
            } catch {
                return error
            }
        }.value
        XCTAssertNotNil(result)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        server.close()
        task.cancel()
    }
}

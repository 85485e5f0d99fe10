import Foundation
import NIOPosix
import XCTest

@testable import FerryDaemon

/// The metrics endpoint on NIOHTTP1: answers, refusals, and bounds on slow and silent clients.
final class MetricsServerTests: XCTestCase {
    private func start(timeout: Int64 = 30, limit: Int = 32) async throws -> (MetricsServer, Task<Void, Never>, Int) {
        let server = try await MetricsServer.bind(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
            connectionTimeout: .seconds(timeout), maximumConnections: limit
        ) { "ferry_test_total 7\n" }
        let task = Task { await server.run() }
        return (server, task, try XCTUnwrap(server.port))
    }

    private func request(_ text: String, port: Int) async throws -> String {
        let client = try TCPTestClient(port: port)
        client.write(Array(text.utf8))
        return String(decoding: try await offPool { client.readToEnd() }.bytes, as: UTF8.self)
    }

    func testAnswersScrapesAndRefusesOtherRequests() async throws {
        let (server, task, port) = try await start()
        let scrape = try await request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: port)
        XCTAssertTrue(scrape.hasPrefix("HTTP/1.1 200 OK\r\n"), scrape)
        XCTAssertTrue(scrape.contains("text/plain; version=0.0.4"), scrape)
        XCTAssertTrue(scrape.hasSuffix("\r\n\r\nferry_test_total 7\n"), scrape)
        let head = try await request("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: port)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"), head)
        let post = try await request("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", port: port)
        XCTAssertTrue(post.hasPrefix("HTTP/1.1 405"), post)
        let missing = try await request("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", port: port)
        XCTAssertTrue(missing.hasPrefix("HTTP/1.1 404"), missing)
        let garbage = try await request("\u{1}\u{2} nonsense\r\n\r\n", port: port)
        XCTAssertTrue(garbage.isEmpty || garbage.hasPrefix("HTTP/1.1 400"), garbage)
        server.close()
        await task.value
    }

    func testSilentClientsAreDroppedAndDoNotStarveAScraper() async throws {
        let (server, task, port) = try await start(timeout: 1, limit: 8)
        // Five clients that connect and say nothing, one that trickles half a request.
        let silent = try (0..<5).map { _ in try TCPTestClient(port: port) }
        let trickler = try TCPTestClient(port: port)
        trickler.write(Array("GET /met".utf8))
        // A scraper is still served at once.
        let scrape = try await request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", port: port)
        XCTAssertTrue(scrape.hasPrefix("HTTP/1.1 200 OK\r\n"), scrape)
        // And the silent ones are dropped after the timeout: their reads end (bounded by the clients' own timeout).
        let started = Date()
        for client in silent + [trickler] {
            let ended = try await offPool { client.readToEnd() }
            XCTAssertTrue(ended.bytes.isEmpty)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        server.close()
        await task.value
    }

    func testConnectionsBeyondTheLimitAreClosedAtOnce() async throws {
        let (server, task, port) = try await start(timeout: 30, limit: 2)
        // Five silent connections at once against a limit of two: whichever two the server admits stay open (their
        // reads time out after 2 s), the other three are closed at accept (their reads end at once). The order in
        // which the event loops hand accepted connections over is not fixed, so the test counts, not names, them.
        let clients = try (0..<5).map { _ in try TCPTestClient(port: port, timeoutSeconds: 2) }
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for client in clients {
                group.addTask {
                    let started = Date()
                    let ended = try await offPool { client.readToEnd() }
                    return ended.bytes.isEmpty && Date().timeIntervalSince(started) < 1.5
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(outcomes.filter { $0 }.count, 3, "closed at accept")
        XCTAssertEqual(outcomes.filter { !$0 }.count, 2, "held within the limit")
        server.close()
        task.cancel()
        _ = clients
    }
}

import FerryTransport
import XCTest

@testable import Ferry

/// What the runtime does when the local network stack refuses a datagram as too large (EMSGSIZE).
///
/// A real EMSGSIZE for a datagram of 1200 bytes or less needs an interface with a tiny MTU (root), so the tests
/// enter at the point where the failed write's promise lands (`localPathRefused`) and check the bookkeeping
/// that decides which writes carry a promise.
final class LocalSendErrorTests: XCTestCase {
    func testOnlyWritesLargerThanTheConfirmedSizeAreChecked() throws {
        let first = try XCTUnwrap(NetworkAddress(ipBytes: [127, 0, 0, 1], port: 4433))
        let second = try XCTUnwrap(NetworkAddress(ipBytes: [127, 0, 0, 1], port: 4434))
        var sizes = LocalSendSizes()
        XCTAssertTrue(sizes.needsProbe(size: 1200, to: first))
        sizes.confirm(size: 1200, to: first)
        XCTAssertFalse(sizes.needsProbe(size: 1200, to: first))
        XCTAssertFalse(sizes.needsProbe(size: 90, to: first))
        XCTAssertTrue(sizes.needsProbe(size: 1452, to: first))
        // Each destination has its own size (the local route, and so the MTU, may differ).
        XCTAssertTrue(sizes.needsProbe(size: 1200, to: second))
        sizes.confirm(size: 1452, to: second)
        XCTAssertFalse(sizes.needsProbe(size: 1300, to: second))
        XCTAssertFalse(sizes.needsProbe(size: 1200, to: first))
        XCTAssertTrue(sizes.needsProbe(size: 1300, to: first))
        // A smaller confirmation never lowers what is known.
        sizes.confirm(size: 1000, to: second)
        XCTAssertFalse(sizes.needsProbe(size: 1452, to: second))
    }

    func testRefusedMinimumSizeDatagramClosesWithNoViablePath() async throws {
        try await withRefusedDatagram(size: 1200, alpn: "perf") { connection in
            // The local stack refused a 1200-byte datagram to the server: the path is below QUIC's minimum.
            let reason = await connection.closed
            guard case .transportError(let error, by: .local) = reason else {
                return XCTFail("expected a local transport error, got \(reason)")
            }
            XCTAssertEqual(error.code, .noViablePath)
        }
    }

    func testRefusedLargerDatagramKeepsTheConnection() async throws {
        try await withRefusedDatagram(size: 1452, alpn: "echo/1") { connection in
            // Above 1200 bytes DPLPMTUD handles the smaller path itself (RFC 8899 §4.3): nothing closes.
            let (send, receive) = try await connection.openBidirectionalStream()
            try await send.write(Array("still here".utf8), finish: true)
            let echoed = try await receive.readToEnd(limit: 100)
            XCTAssertEqual(echoed, Array("still here".utf8))
            let closeReason = await connection.closeReason
            XCTAssertNil(closeReason)
        }
    }

    /// Connects a client to a test server, reports a refused `size`-byte datagram to the server on the client's
    /// loop (where a failed write's promise would land), then runs `body` with the connection.
    private func withRefusedDatagram(
        size: Int,
        alpn: String,
        _ body: @escaping @Sendable (Connection) async throws -> Void
    ) async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(20) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: alpn)
                let serverAddress = try XCTUnwrap(
                    NetworkAddress(ipBytes: [127, 0, 0, 1], port: server.endpoint.localAddress.port))
                let driver = client.core.driver
                try await driver.eventLoop.submit {
                    driver.value.localPathRefused(size: size, to: serverAddress)
                }.get()
                try await body(connection)
            }
        }
    }
}

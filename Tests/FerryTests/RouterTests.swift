import Ferry
import XCTest

/// Answers each connection's first bidirectional stream with its name, then waits for the connection to end.
struct NamingHandler: ProtocolHandler {
    let name: String
    let log: CallLog
    let holds: ConnectionHolder

    func accept(_ connection: Connection) async {
        await holds.hold(connection)
        guard let (send, _) = try? await connection.acceptBidirectionalStream() else { return }
        try? await send.write(Array(name.utf8))
        try? await send.finish()
        // Serve until the connection ends, like a real protocol handler.
        _ = await connection.closed
    }

    func shutdown() async {
        // Shutdown runs before the endpoint closes: connections are still open here.
        let stillOpen = await holds.openCount()
        await log.append("\(name).shutdown open=\(stillOpen)")
    }
}

/// Keeps the connections a handler is serving, to check their state during shutdown.
actor ConnectionHolder {
    private var connections: [Connection] = []

    func hold(_ connection: Connection) {
        connections.append(connection)
    }

    /// How many connections the handler was given.
    var count: Int { connections.count }

    func openCount() async -> Int {
        var open = 0
        for connection in connections where await connection.closeReason == nil { open += 1 }
        return open
    }
}

/// Each handler's shutdown waits until the other's has started: only concurrent shutdown completes.
struct RendezvousHandler: ProtocolHandler {
    let mine: Signal
    let theirs: Signal

    func accept(_ connection: Connection) async {}

    func shutdown() async {
        mine.fire()
        await theirs.wait()
    }
}

final class RouterTests: XCTestCase {
    private static func readAll(_ receive: ReceiveStream) async throws -> String {
        var bytes: [UInt8] = []
        while let chunk = try await receive.read() { bytes += chunk }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testDispatchesByALPNAndShutsDownInOrder() async throws {
        let log = CallLog()
        let holdsA = ConnectionHolder()
        let holdsB = ConnectionHolder()
        let router = try await Router.bind(
            host: "127.0.0.1",
            identity: .generate(),
            handlers: [
                "a/1": NamingHandler(name: "a", log: log, holds: holdsA),
                "b/1": NamingHandler(name: "b", log: log, holds: holdsB),
            ]
        )
        XCTAssertEqual(router.endpoint.alpns, ["a/1", "b/1"])
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            var connections: [Connection] = []
            for (alpn, expected) in [("a/1", "a"), ("b/1", "b")] {
                let connection = try await client.connect(to: router.endpoint.address, alpn: alpn)
                let (send, receive) = try await connection.openBidirectionalStream()
                try await send.write([0])
                let answer = try await RouterTests.readAll(receive)
                XCTAssertEqual(answer, expected)
                connections.append(connection)
            }

            await router.shutdown()
            XCTAssertTrue(router.isShutDown)
            let entries = await log.entries
            XCTAssertEqual(Set(entries), ["a.shutdown open=1", "b.shutdown open=1"])
            // Then the endpoint closed, and with it every connection.
            for connection in connections {
                let reason = await connection.closed
                XCTAssertEqual(reason, .applicationClosed(errorCode: 0, reason: "endpoint closed", by: .peer))
            }
            let next = try await router.endpoint.accept()
            XCTAssertNil(next)
            // A second shutdown is a no-op.
            await router.shutdown()
        }
        await client.close()
    }

    func testUnknownALPNFailsInTLS() async throws {
        let router = try await Router.bind(
            host: "127.0.0.1",
            identity: .generate(),
            handlers: ["a/1": NamingHandler(name: "a", log: CallLog(), holds: ConnectionHolder())]
        )
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            do throws(ConnectionError) {
                _ = try await client.connect(to: router.endpoint.address, alpn: "zzz/9")
                XCTFail("an ALPN without a handler must fail the handshake")
            } catch {
                XCTAssertTrue(error.isTLSFailure, "expected no_application_protocol, got \(error)")
            }
        }
        await router.shutdown()
        await client.close()
    }

    func testHandlersShutDownConcurrently() async throws {
        let first = Signal()
        let second = Signal()
        let router = try await Router.bind(
            host: "127.0.0.1",
            identity: .generate(),
            handlers: [
                "x/1": RendezvousHandler(mine: first, theirs: second),
                "y/1": RendezvousHandler(mine: second, theirs: first),
            ]
        )
        try await withTimeout(20) {
            await router.shutdown()
        }
        XCTAssertTrue(router.isShutDown)
    }

    func testDroppedRouterIsReleased() async throws {
        weak var probe: Router?
        do {
            let router = try await Router.bind(
                host: "127.0.0.1",
                identity: .generate(),
                handlers: ["a/1": NamingHandler(name: "a", log: CallLog(), holds: ConnectionHolder())]
            )
            probe = router
            XCTAssertNotNil(probe)
        }
        XCTAssertNil(probe, "the serving task keeps the router alive")
    }
}

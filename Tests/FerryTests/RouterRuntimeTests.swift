import Ferry
import XCTest

/// Echoes every bidirectional stream of every connection it takes, and reports each connection it took.
struct ReportingEchoHandler: ProtocolHandler {
    let taken: AsyncStream<Connection>.Continuation

    func accept(_ connection: Connection) async {
        taken.yield(connection)
        await withDiscardingTaskGroup { group in
            while let (send, receive) = try? await connection.acceptBidirectionalStream() {
                group.addTask {
                    guard let bytes = try? await receive.readToEnd(limit: 1 << 16) else { return }
                    try? await send.write(bytes, finish: true)
                }
            }
        }
    }

    /// A handler and the connections it takes, in order.
    static func make() -> (ReportingEchoHandler, AsyncStream<Connection>) {
        let (stream, continuation) = AsyncStream.makeStream(of: Connection.self)
        return (ReportingEchoHandler(taken: continuation), stream)
    }
}

/// Holds the server's `afterHandshake` for one ALPN until released, to keep a handshake in flight at will.
struct HoldingHook: EndpointHooks {
    let alpn: String
    let reached: Signal
    let release: Gate

    func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
        if connection.alpn == alpn {
            reached.fire()
            await release.wait()
        }
        return .accept
    }
}

/// `Router.addHandler` / `removeHandler` while the router runs (issue 5: reload adds and removes services).
final class RouterRuntimeTests: XCTestCase {
    /// The TLS alert QUIC carries as CONNECTION_CLOSE 0x0178 when no ALPN is in common (RFC 9001 §8.1).
    private static let noApplicationProtocol: UInt8 = 120

    private static func echo(_ connection: Connection, _ text: String) async throws -> String {
        let (send, receive) = try await connection.openBidirectionalStream()
        try await send.write(Array(text.utf8), finish: true)
        return String(decoding: try await receive.readToEnd(limit: 1 << 16), as: UTF8.self)
    }

    /// The alert of the TLS failure `connect` ended with, or nil when it connected or failed otherwise.
    private static func refusalAlert(_ client: Endpoint, _ router: Router, alpn: String) async -> UInt8? {
        do {
            let connection = try await client.connect(to: router.endpoint.address, alpn: alpn)
            connection.close(code: 0, reason: "unexpected")
            return nil
        } catch {
            guard case .closed(.tlsFailure(let alert, _, .peer)) = error else { return nil }
            return alert
        }
    }

    func testAddedHandlerIsRoutedAndRemovedOneRefusesNewConnectionsOnly() async throws {
        let (handler, taken) = ReportingEchoHandler.make()
        let router = try await Router.bind(
            host: "127.0.0.1",
            identity: .generate(),
            handlers: ["a/1": NamingHandler(name: "a", log: CallLog(), holds: ConnectionHolder())]
        )
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(30) {
            var taken = taken.makeAsyncIterator()
            let before = await Self.refusalAlert(client, router, alpn: "b/1")
            XCTAssertEqual(before, Self.noApplicationProtocol, "b/1 is not offered yet")

            try router.addHandler(handler, for: "b/1")
            XCTAssertEqual(router.endpoint.alpns, ["a/1", "b/1"])
            XCTAssertEqual(Set(router.handlers.keys), ["a/1", "b/1"])
            let kept = try await client.connect(to: router.endpoint.address, alpn: "b/1")
            let keptEcho = try await Self.echo(kept, "routed")
            XCTAssertEqual(keptEcho, "routed")
            // The handler has taken the connection before the removal below.
            let served = await taken.next()
            XCTAssertEqual(served?.remoteID, client.id)

            let removed = router.removeHandler(for: "b/1")
            XCTAssertNotNil(removed)
            XCTAssertNil(router.removeHandler(for: "b/1"), "a second removal finds nothing")
            XCTAssertEqual(router.endpoint.alpns, ["a/1"])
            let after = await Self.refusalAlert(client, router, alpn: "b/1")
            XCTAssertEqual(after, Self.noApplicationProtocol, "a new client is refused in TLS (0x0178)")
            // The connection the handler took is untouched: new streams on it are still served.
            let keptAfter = try await Self.echo(kept, "still served")
            XCTAssertEqual(keptAfter, "still served")
            let keptReason = await kept.closeReason
            XCTAssertNil(keptReason)

            // Adding it back serves new clients again, with a new handler.
            let (again, _) = ReportingEchoHandler.make()
            try router.addHandler(again, for: "b/1")
            let fresh = try await client.connect(to: router.endpoint.address, alpn: "b/1")
            let freshEcho = try await Self.echo(fresh, "back")
            XCTAssertEqual(freshEcho, "back")
            kept.close(code: 0, reason: "done")
            fresh.close(code: 0, reason: "done")
        }
        await router.shutdown()
        await client.close()
    }

    func testRemovingEveryHandlerRefusesInTLSAndAddingReopens() async throws {
        let (handler, _) = ReportingEchoHandler.make()
        let router = try await Router.bind(host: "127.0.0.1", identity: .generate(), handlers: [:])
        XCTAssertTrue(router.endpoint.acceptsIncoming, "a router accepts even before its first handler")
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        XCTAssertFalse(client.acceptsIncoming)
        try await withTimeout(30) {
            let empty = await Self.refusalAlert(client, router, alpn: "x/1")
            XCTAssertEqual(empty, Self.noApplicationProtocol)
            try router.addHandler(handler, for: "x/1")
            let connection = try await client.connect(to: router.endpoint.address, alpn: "x/1")
            let answer = try await Self.echo(connection, "first handler")
            XCTAssertEqual(answer, "first handler")
            router.removeHandler(for: "x/1")
            XCTAssertEqual(router.endpoint.alpns, [])
            let emptyAgain = await Self.refusalAlert(client, router, alpn: "x/1")
            XCTAssertEqual(emptyAgain, Self.noApplicationProtocol, "no ALPN left: the transport still answers, TLS refuses")
            connection.close(code: 0, reason: "done")
        }
        await router.shutdown()
        await client.close()
    }

    /// A handshake that completed with an ALPN removed before the connection reached the router is closed with
    /// application error 0x1 ("no handler"), never served.
    func testHandshakeInFlightDuringRemovalIsNotServed() async throws {
        let reached = Signal()
        let release = Gate()
        let (handler, _) = ReportingEchoHandler.make()
        let router = try await Router.bind(
            host: "127.0.0.1",
            identity: .generate(),
            handlers: ["c/1": handler],
            hooks: [HoldingHook(alpn: "c/1", reached: reached, release: release)]
        )
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(30) {
            let dialing = Task { try await client.connect(to: router.endpoint.address, alpn: "c/1") }
            await reached.wait()
            XCTAssertNotNil(router.removeHandler(for: "c/1"))
            release.open()
            let connection = try await dialing.value
            let reason = await connection.closed
            XCTAssertEqual(reason, .applicationClosed(errorCode: 1, reason: "no handler", by: .peer))
        }
        await router.shutdown()
        await client.close()
    }

    func testAddHandlerErrors() async throws {
        let (handler, _) = ReportingEchoHandler.make()
        let router = try await Router.bind(host: "127.0.0.1", identity: .generate(), handlers: ["a/1": handler])
        XCTAssertThrowsError(try router.addHandler(handler, for: "a/1")) { error in
            XCTAssertEqual(error as? RouterError, .handlerExists(alpn: "a/1"))
        }
        XCTAssertThrowsError(try router.addHandler(handler, for: "")) { error in
            XCTAssertEqual(error as? RouterError, .invalidALPN(alpn: "", .emptyProtocolID))
        }
        let long = String(repeating: "x", count: 256)
        XCTAssertThrowsError(try router.addHandler(handler, for: long)) { error in
            XCTAssertEqual(error as? RouterError, .invalidALPN(alpn: long, .protocolIDTooLong(length: 256)))
        }
        XCTAssertEqual(router.endpoint.alpns, ["a/1"], "failed additions change nothing")
        await router.shutdown()
        XCTAssertThrowsError(try router.addHandler(handler, for: "b/1")) { error in
            XCTAssertEqual(error as? RouterError, .shutDown)
        }

        // A dial-only endpoint cannot start accepting: its transport drops incoming Initials.
        let dialer = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        XCTAssertThrowsError(try dialer.addALPN("a/1")) { error in
            XCTAssertEqual(error as? ALPNError, .endpointDoesNotAccept)
        }
        await dialer.close()
    }
}

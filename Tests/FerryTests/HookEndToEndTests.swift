import Ferry
import XCTest

/// Rejects outgoing connections to one id.
struct DenyDialHook: EndpointHooks {
    let denied: EndpointID

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        remote.id == denied ? .reject : .accept
    }
}

/// Rejects authenticated peers in a deny set with code 42.
struct DenyPeerHook: EndpointHooks {
    let denied: Set<EndpointID>

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        denied.contains(connection.remoteID) ? .reject(code: 42, reason: "denied") : .accept
    }
}

/// Records what a hook can see, then accepts.
actor HookObservations {
    var info: IncomingInfo?
    var paths: [PathInfo] = []
    var side: Side?
    var handle: WeakConnectionHandle?
    var events: PathEvents?

    func record(info: IncomingInfo) { self.info = info }
    func record(paths: [PathInfo], side: Side, handle: WeakConnectionHandle, events: PathEvents) {
        self.paths = paths
        self.side = side
        self.handle = handle
        self.events = events
    }
}

struct ObservingHook: EndpointHooks {
    let observations: HookObservations
    var incomingOutcome: IncomingOutcome = .accept

    func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        await observations.record(info: info)
        return incomingOutcome
    }

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        let paths = await connection.paths()
        await observations.record(
            paths: paths, side: connection.side, handle: connection.weakHandle(), events: connection.pathEvents())
        return .accept
    }
}

/// Holds connections from one peer until released.
struct HoldPeerHook: EndpointHooks {
    let held: EndpointID
    let gate: Gate
    let entered: Signal

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        if connection.remoteID == held {
            entered.fire()
            await gate.wait()
        }
        return .accept
    }
}

final class HookEndToEndTests: XCTestCase {
    private func makeServer(hooks: HookChain) async throws -> Endpoint {
        try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"], hooks: hooks)
    }

    func testBeforeConnectRejectionSendsNothing() async throws {
        let server = try await makeServer(hooks: HookChain())
        let client = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: [], hooks: [DenyDialHook(denied: server.id)])
        try await withTimeout(20) {
            do throws(ConnectionError) {
                _ = try await client.connect(to: server.address, alpn: "echo/1")
                XCTFail("the hook should have refused")
            } catch {
                XCTAssertEqual(
                    error,
                    .locallyRejected(HookRejection(
                        stage: .beforeConnect, hook: HookIdentity(position: 1, typeName: "DenyDialHook")))
                )
            }
            let clientCount = await client.connectionCount
            let serverCount = await server.connectionCount
            XCTAssertEqual(clientCount, 0)
            XCTAssertEqual(serverCount, 0)
        }
        await client.close()
        await server.close()
    }

    func testServerRejectionReachesPeerAndIsNeverAccepted() async throws {
        let deniedIdentity = EndpointIdentity.generate()
        let server = try await makeServer(hooks: [DenyPeerHook(denied: [deniedIdentity.id])])
        let denied = try await Endpoint.bind(host: "127.0.0.1", identity: deniedIdentity, alpns: [])
        let allowedIdentity = EndpointIdentity.generate()
        let allowed = try await Endpoint.bind(host: "127.0.0.1", identity: allowedIdentity, alpns: [])
        try await withTimeout(20) {
            let acceptedTask = Task { await server.incomingConnections.first { _ in true } }
            // The client's handshake completes before the server's hook decides; its stream data must never
            // reach the server application.
            let connection = try await denied.connect(to: server.address, alpn: "echo/1")
            if let send = try? await connection.openUnidirectionalStream() {
                try? await send.write(Array("must not be delivered".utf8))
            }
            let reason = await connection.closed
            XCTAssertEqual(reason, .applicationClosed(errorCode: 42, reason: "denied", by: .peer))

            let good = try await allowed.connect(to: server.address, alpn: "echo/1")
            let accepted = await acceptedTask.value
            XCTAssertEqual(accepted?.remoteID, allowedIdentity.id, "the rejected connection was handed out")
            good.close()
        }
        await denied.close()
        await allowed.close()
        await server.close()
    }

    func testClientSideRejectionFailsConnectAndPeerSeesCode() async throws {
        let server = try await makeServer(hooks: HookChain())
        let client = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: [], hooks: [DenyPeerHook(denied: [server.id])])
        try await withTimeout(20) {
            let acceptedTask = Task { await server.incomingConnections.first { _ in true } }
            do throws(ConnectionError) {
                _ = try await client.connect(to: server.address, alpn: "echo/1")
                XCTFail("the client's hook should have refused")
            } catch {
                XCTAssertEqual(
                    error,
                    .locallyRejected(HookRejection(
                        stage: .afterHandshake, hook: HookIdentity(position: 1, typeName: "DenyPeerHook")))
                )
            }
            let accepted = await acceptedTask.value
            let reason = await accepted?.closed
            XCTAssertEqual(reason, .applicationClosed(errorCode: 42, reason: "denied", by: .peer))
        }
        await client.close()
        await server.close()
    }

    func testHookSeesReadOnlyViewAndPathEvents() async throws {
        let observations = HookObservations()
        let server = try await makeServer(hooks: [ObservingHook(observations: observations)])
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            let acceptedTask = Task { await server.incomingConnections.first { _ in true } }
            let connection = try await client.connect(to: server.address, alpn: "echo/1")
            let accepted = await acceptedTask.value
            XCTAssertNotNil(accepted)

            let info = await observations.info
            XCTAssertEqual(info?.remoteAddress, client.localAddress)
            // The filter ran before the handshake: no Retry token; ALPNs read from the ClientHello (best effort).
            XCTAssertEqual(info?.alpns, ["echo/1"])
            XCTAssertEqual(info?.isAddressValidated, false)
            XCTAssertEqual(info?.localAddress, server.localAddress)
            let paths = await observations.paths
            XCTAssertEqual(paths.count, 1)
            XCTAssertEqual(paths.first?.isSelected, true)
            XCTAssertEqual(paths.first?.remoteAddress, client.localAddress)
            XCTAssertGreaterThan(paths.first?.stats.bytesReceived ?? 0, 0)
            let side = await observations.side
            XCTAssertEqual(side, .server)

            let handle = await observations.handle
            XCTAssertEqual(handle?.isAlive, true)
            let stats = await handle?.stats()
            XCTAssertNotNil(stats)

            connection.close(code: 3, reason: "done")
            _ = await accepted?.closed
            guard let events = await observations.events else { return XCTFail("no path events") }
            var received: [PathEvent] = []
            for await event in events { received.append(event) }
            guard case .closed(let id, _) = received.last else { return XCTFail("no closed event: \(received)") }
            XCTAssertEqual(id, PathID(rawValue: 0))
        }
        await client.close()
        await server.close()
    }

    func testIncomingFilterRejectsBeforeTheHandshake() async throws {
        let observations = HookObservations()
        let server = try await makeServer(hooks: [ObservingHook(observations: observations, incomingOutcome: .reject)])
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            do throws(ConnectionError) {
                _ = try await client.connect(to: server.address, alpn: "echo/1")
                XCTFail("the server's incoming filter should have refused")
            } catch {
                guard case .closed(let reason) = error else { return XCTFail("unexpected \(error)") }
                switch reason {
                case .transportError(_, by: .peer), .applicationClosed(_, _, by: .peer): break
                default: XCTFail("expected a close from the server, got \(reason)")
                }
            }
            let info = await observations.info
            XCTAssertEqual(info?.remoteAddress, client.localAddress)
            let side = await observations.side
            XCTAssertNil(side, "afterHandshake ran for a refused attempt")
        }
        await client.close()
        await server.close()
    }

    func testIncomingFilterIgnoreCostsNothing() async throws {
        let observations = HookObservations()
        let server = try await makeServer(hooks: [ObservingHook(observations: observations, incomingOutcome: .ignore)])
        var configuration = EndpointConfiguration()
        configuration.transport.maxIdleTimeout = .milliseconds(600)
        let client = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: [], configuration: configuration)
        try await withTimeout(20) {
            do throws(ConnectionError) {
                _ = try await client.connect(to: server.address, alpn: "echo/1")
                XCTFail("an ignored attempt must not complete")
            } catch {
                XCTAssertEqual(error, .closed(.idleTimeout))
            }
            let info = await observations.info
            XCTAssertNotNil(info)
            let serverConnections = await server.connectionCount
            XCTAssertEqual(serverConnections, 0, "an ignored attempt created server state")
        }
        await client.close()
        await server.close()
    }

    func testSlowHookDoesNotDelayOtherConnections() async throws {
        let heldIdentity = EndpointIdentity.generate()
        let gate = Gate()
        let entered = Signal()
        let server = try await makeServer(hooks: [HoldPeerHook(held: heldIdentity.id, gate: gate, entered: entered)])
        let held = try await Endpoint.bind(host: "127.0.0.1", identity: heldIdentity, alpns: [])
        let otherIdentity = EndpointIdentity.generate()
        let other = try await Endpoint.bind(host: "127.0.0.1", identity: otherIdentity, alpns: [])
        try await withTimeout(20) {
            let heldConnection = try await held.connect(to: server.address, alpn: "echo/1")
            await entered.wait()
            let otherConnection = try await other.connect(to: server.address, alpn: "echo/1")
            let first = try await server.accept()
            XCTAssertEqual(first?.remoteID, otherIdentity.id, "a held hook delayed another connection")
            gate.open()
            let second = try await server.accept()
            XCTAssertEqual(second?.remoteID, heldIdentity.id)
            heldConnection.close()
            otherConnection.close()
        }
        gate.open()
        await held.close()
        await other.close()
        await server.close()
    }

    func testStartHookErrorAbortsBindAndShutdownHooksRunOnClose() async throws {
        var failing = LifecycleHooks()
        failing.onStart("registry") { throw StartFailure() }
        do {
            _ = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [], lifecycle: failing)
            XCTFail("bind should fail")
        } catch {
            XCTAssertEqual(
                error, .startHookFailed(StartHookError(position: 1, name: "registry", underlying: StartFailure())))
        }

        let log = CallLog()
        var lifecycle = LifecycleHooks()
        lifecycle.onStart("start") { await log.append("start") }
        lifecycle.onShutdown("stop") { await log.append("stop") }
        let endpoint = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [], lifecycle: lifecycle)
        var entries = await log.entries
        XCTAssertEqual(entries, ["start"])
        await endpoint.close()
        await endpoint.close()
        entries = await log.entries
        XCTAssertEqual(entries, ["start", "stop"], "shutdown hooks run once")
    }

    func testConnectionWeakHandleGoesNilWhenConnectionIsGone() async throws {
        let server = try await makeServer(hooks: HookChain())
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            let acceptedTask = Task { await server.incomingConnections.first { _ in true } }
            var connection: Connection? = try await client.connect(to: server.address, alpn: "echo/1")
            let handle = await connection?.weakHandle()
            XCTAssertEqual(handle?.isAlive, true)
            let paths = await connection?.paths()
            XCTAssertEqual(paths?.count, 1)
            connection?.close()
            _ = await connection?.closed
            connection = nil
            // The runtime forgets a closed, released connection on its loop; one round trip makes that visible.
            _ = await client.connectionCount
            XCTAssertEqual(handle?.isAlive, false)
            let stats = await handle?.stats()
            XCTAssertNil(stats)
            _ = await acceptedTask.value
        }
        await client.close()
        await server.close()
    }

    func testRouterHandlersOnlySeeAcceptedConnections() async throws {
        let deniedIdentity = EndpointIdentity.generate()
        let log = CallLog()
        let holds = ConnectionHolder()
        let router = try await Router.bind(
            host: "127.0.0.1",
            identity: .generate(),
            handlers: ["a/1": NamingHandler(name: "a", log: log, holds: holds)],
            hooks: [DenyPeerHook(denied: [deniedIdentity.id])]
        )
        let denied = try await Endpoint.bind(host: "127.0.0.1", identity: deniedIdentity, alpns: [])
        let allowed = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            let rejected = try await denied.connect(to: router.endpoint.address, alpn: "a/1")
            let reason = await rejected.closed
            XCTAssertEqual(reason, .applicationClosed(errorCode: 42, reason: "denied", by: .peer))

            let connection = try await allowed.connect(to: router.endpoint.address, alpn: "a/1")
            let (send, receive) = try await connection.openBidirectionalStream()
            try await send.write([0])
            var answer: [UInt8] = []
            while let bytes = try await receive.read() { answer += bytes }
            XCTAssertEqual(answer, Array("a".utf8))
            await router.shutdown()
            let entries = await log.entries
            XCTAssertEqual(entries, ["a.shutdown open=1"])
            let handled = await holds.count
            XCTAssertEqual(handled, 1, "the handler saw the rejected connection")
        }
        await denied.close()
        await allowed.close()
    }
}

@testable import Ferry
import Logging
import XCTest

// End-to-end proofs of the hook rules in docs/hooks.md over real sockets: call order across stages and sides,
// short-circuiting, fail-closed timeouts and throws (the peer's close reason says which), data held back until
// acceptance, bounded shutdown hooks, and nothing kept alive by weak handles or path-event streams.

/// Rejects at every stage with its own code, logging the call (RecordingHook's names, HookChainTests).
struct CodeRejectingHook: EndpointHooks {
    let name: String
    let log: CallLog
    let code: UInt64

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        await log.append("\(name).beforeConnect")
        return .reject
    }

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        await log.append("\(name).afterHandshake")
        return .reject(code: code, reason: "no")
    }
}

/// Throws from afterHandshake only (HookChainTests' ThrowingHook throws at every stage, so its incoming filter
/// would refuse before the handshake).
struct AfterHandshakeThrowingHook: EndpointHooks {
    func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
        throw PolicyError()
    }
}

/// Takes `delay` to accept: a slow but well-behaved policy lookup.
struct SlowHook: EndpointHooks {
    let delay: Duration

    func beforeConnect(remote: EndpointAddress, alpn: String) async throws -> BeforeConnectOutcome {
        try await Task.sleep(for: delay)
        return .accept
    }
}

/// Holds every afterHandshake until the gate opens.
struct HoldAllHook: EndpointHooks {
    let gate: Gate
    let entered: Signal

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        entered.fire()
        await gate.wait()
        return .accept
    }
}

/// Fires its signal when freed: proves whatever owns it was released.
final class DeinitProbe: Sendable {
    let signal: Signal

    init(_ signal: Signal) { self.signal = signal }

    deinit { signal.fire() }
}

/// Keeps weak handles and unread path-event streams, as a careless monitor would.
actor HandleKeeper {
    var handles: [WeakConnectionHandle] = []
    var events: [PathEvents] = []

    func keep(_ handle: WeakConnectionHandle, _ events: PathEvents) {
        handles.append(handle)
        self.events.append(events)
    }
}

/// Hands weak handles and path-event streams to a keeper that outlives the endpoint; owns a deinit probe.
struct KeepingHook: EndpointHooks {
    let keeper: HandleKeeper
    let probe: DeinitProbe

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        await keeper.keep(connection.weakHandle(), connection.pathEvents())
        return .accept
    }
}

final class HookRulesTests: XCTestCase {
    private static func bindServer(_ hooks: HookChain, configuration: EndpointConfiguration = EndpointConfiguration())
        async throws -> Endpoint
    {
        try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"], configuration: configuration, hooks: hooks)
    }

    private static func bindClient(_ hooks: HookChain = HookChain()) async throws -> Endpoint {
        try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [], hooks: hooks)
    }

    /// Connects and returns the close reason the client sees, whether connect itself succeeded or not.
    private static func closeReasonSeenByClient(_ client: Endpoint, dialing server: Endpoint) async -> ConnectionCloseReason? {
        do throws(ConnectionError) {
            let connection = try await client.connect(to: server.address, alpn: "echo/1")
            return await connection.closed
        } catch {
            if case .closed(let reason) = error { return reason }
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    func testCallOrderAcrossStagesAndSides() async throws {
        let log = CallLog()
        let server = try await Self.bindServer([RecordingHook(name: "s1", log: log), RecordingHook(name: "s2", log: log)])
        let client = try await Self.bindClient([RecordingHook(name: "c1", log: log), RecordingHook(name: "c2", log: log)])
        try await withTimeout(20) {
            let connection = try await client.connect(to: server.address, alpn: "echo/1")
            let accepted = try await server.accept()
            XCTAssertNotNil(accepted)
            let entries = await log.entries
            XCTAssertEqual(
                entries.filter { $0.hasPrefix("c") },
                ["c1.beforeConnect", "c2.beforeConnect", "c1.afterHandshake", "c2.afterHandshake"])
            XCTAssertEqual(
                entries.filter { $0.hasPrefix("s") },
                ["s1.incoming", "s2.incoming", "s1.afterHandshake", "s2.afterHandshake"])
            // beforeConnect runs before any packet, so before the server hears of the attempt.
            XCTAssertEqual(Array(entries.prefix(2)), ["c1.beforeConnect", "c2.beforeConnect"])
            connection.close()
        }
        await client.close()
        await server.close()
    }

    func testFirstRejectionShortCircuitsOnBothSides() async throws {
        let log = CallLog()
        let server = try await Self.bindServer([
            RecordingHook(name: "s1", log: log), CodeRejectingHook(name: "s2", log: log, code: 7),
            RecordingHook(name: "s3", log: log),
        ])
        let client = try await Self.bindClient()
        try await withTimeout(20) {
            let reason = await Self.closeReasonSeenByClient(client, dialing: server)
            XCTAssertEqual(reason, .applicationClosed(errorCode: 7, reason: "no", by: .peer))
            let entries = await log.entries
            XCTAssertEqual(entries.filter { $0.hasSuffix("afterHandshake") }, ["s1.afterHandshake", "s2.afterHandshake"])
        }

        let dialLog = CallLog()
        let refusing = try await Self.bindClient([
            CodeRejectingHook(name: "c1", log: dialLog, code: 1), RecordingHook(name: "c2", log: dialLog),
        ])
        try await withTimeout(20) {
            do throws(ConnectionError) {
                _ = try await refusing.connect(to: server.address, alpn: "echo/1")
                XCTFail("the first hook should have refused")
            } catch {
                XCTAssertEqual(
                    error,
                    .locallyRejected(HookRejection(
                        stage: .beforeConnect, hook: HookIdentity(position: 1, typeName: "CodeRejectingHook"))))
            }
            let entries = await dialLog.entries
            XCTAssertEqual(entries, ["c1.beforeConnect"], "a hook after the rejection ran")
        }
        await refusing.close()
        await client.close()
        await server.close()
    }

    func testThrowingHookFailsClosedAndThePeerSeesWhy() async throws {
        let server = try await Self.bindServer(HookChain([AfterHandshakeThrowingHook()], failureErrorCode: 0x99))
        let client = try await Self.bindClient()
        try await withTimeout(20) {
            let reason = await Self.closeReasonSeenByClient(client, dialing: server)
            XCTAssertEqual(
                reason,
                .applicationClosed(errorCode: 0x99, reason: "hook 1 (AfterHandshakeThrowingHook) threw policy store unreachable", by: .peer))
        }
        await client.close()
        await server.close()
    }

    func testTimedOutHookFailsClosedAndThePeerSeesWhy() async throws {
        let gate = Gate()
        let server = try await Self.bindServer(HookChain([StuckHook(gate: gate)], deadline: .milliseconds(300)))
        let client = try await Self.bindClient()
        let stuckDialer = try await Self.bindClient(HookChain([StuckHook(gate: gate)], deadline: .milliseconds(300)))
        try await withTimeout(20) {
            let reason = await Self.closeReasonSeenByClient(client, dialing: server)
            XCTAssertEqual(
                reason, .applicationClosed(errorCode: 1, reason: "hook 1 (StuckHook) timed out after 300ms", by: .peer))

            do throws(ConnectionError) {
                _ = try await stuckDialer.connect(to: server.address, alpn: "echo/1")
                XCTFail("a timed-out beforeConnect must refuse")
            } catch {
                XCTAssertEqual(
                    error,
                    .locallyRejected(HookRejection(
                        stage: .beforeConnect, hook: HookIdentity(position: 1, typeName: "StuckHook"),
                        failure: .timedOut(after: .milliseconds(300)))))
            }
        }
        gate.open()
        await stuckDialer.close()
        await client.close()
        await server.close()
    }

    func testDeadlineRestartsForEachHook() async {
        // Each hook answers within its own deadline although the two together take longer than one deadline.
        let chain = HookChain([SlowHook(delay: .milliseconds(600)), SlowHook(delay: .milliseconds(600))], deadline: .seconds(1))
        let decision = await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "echo/1")
        XCTAssertEqual(decision.outcome, .accept, decision.reason)
        let stuck = HookChain([SlowHook(delay: .milliseconds(10)), StuckHook(gate: Gate())], deadline: .milliseconds(200))
        let timedOut = await stuck.runBeforeConnect(remote: HookFixtures.address, alpn: "echo/1")
        XCTAssertEqual(timedOut.reason, "hook 2 (StuckHook) timed out after 200ms")
    }

    func testDeliveringFormDeliversOnceEvenWhileAHookIsStuck() async {
        // The runtime's form: hooks run in the calling task; the watchdog delivers the timeout while the task is
        // still inside the stuck hook, and the hook's late answer is dropped.
        let gate = Gate()
        let chain = HookChain([StuckHook(gate: gate)], deadline: .milliseconds(200))
        let deliveries = HookLock<[String]>([])
        let delivered = Signal()
        let running = Task {
            await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "echo/1") { decision in
                deliveries.withLock { $0.append(decision.reason) }
                delivered.fire()
            }
        }
        await delivered.wait()
        XCTAssertEqual(deliveries.withLock { $0 }, ["hook 1 (StuckHook) timed out after 200ms"])
        gate.open()
        await running.value
        XCTAssertEqual(deliveries.withLock { $0 }.count, 1, "the late answer was delivered too")

        let log = CallLog()
        let accepting = HookChain([RecordingHook(name: "a", log: log), RecordingHook(name: "b", log: log)])
        let answers = HookLock<[HookDecision<IncomingOutcome>]>([])
        await accepting.runIncoming(HookFixtures.incoming) { decision in answers.withLock { $0.append(decision) } }
        XCTAssertEqual(answers.withLock { $0 }, [HookDecision(outcome: .accept)], "delivered before returning")
        let entries = await log.entries
        XCTAssertEqual(entries, ["a.incoming", "b.incoming"])
    }

    func testStreamDataIsHeldUntilAcceptedThenDelivered() async throws {
        let gate = Gate()
        let entered = Signal()
        let server = try await Self.bindServer([HoldAllHook(gate: gate, entered: entered)])
        let client = try await Self.bindClient()
        try await withTimeout(20) {
            let connection = try await client.connect(to: server.address, alpn: "echo/1")
            let send = try await connection.openUnidirectionalStream()
            try await send.write(Array("sent while the hook decides".utf8), finish: true)
            await entered.wait()
            gate.open()
            guard let accepted = try await server.accept() else { return XCTFail("no connection") }
            let receive = try await accepted.acceptUnidirectionalStream()
            var bytes: [UInt8] = []
            while let chunk = try await receive.read() { bytes += chunk }
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "sent while the hook decides")
            connection.close()
        }
        gate.open()
        await client.close()
        await server.close()
    }

    func testShutdownHooksAreBoundedByTheirDeadline() async throws {
        let gate = Gate()
        let log = CallLog()
        var lifecycle = LifecycleHooks(shutdownDeadline: .milliseconds(300))
        lifecycle.onShutdown("stuck") { await gate.wait() }
        lifecycle.onShutdown("quick") { await log.append("quick") }
        let (logger, records) = CapturingLogHandler.makeLogger()
        let endpoint = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: [], configuration: EndpointConfiguration(logger: logger),
            lifecycle: lifecycle)
        try await withTimeout(20) {
            await endpoint.close()
        }
        let entries = await log.entries
        XCTAssertEqual(entries, ["quick"])
        let warnings = records.records.withLock { $0.filter { $0.message.contains("did not finish") } }
        XCTAssertEqual(warnings.first?.metadata["hooks"], "stuck")
        gate.open()
    }

    func testEndpointsAndConnectionsAreFreedWhileHooksKeepHandlesAndEventStreams() async throws {
        let keeper = HandleKeeper()
        let serverFreed = Signal()
        let clientFreed = Signal()
        let freed = try await withTimeout(20) {
            try await Self.connectAndClose(
                keeper: keeper, serverProbe: DeinitProbe(serverFreed), clientProbe: DeinitProbe(clientFreed))
        }
        try await withTimeout(20) {
            // The hook chains live in the endpoints and their drivers: the probes fire once both are gone.
            await serverFreed.wait()
            await clientFreed.wait()
        }
        XCTAssertNil(freed.server)
        XCTAssertNil(freed.client)
        XCTAssertNil(freed.connection)
        XCTAssertNil(freed.accepted)
        let handles = await keeper.handles
        XCTAssertEqual(handles.count, 2, "both sides' hooks ran")
        for handle in handles {
            XCTAssertFalse(handle.isAlive)
            let stats = await handle.stats()
            XCTAssertNil(stats)
            var late: [PathEvent] = []
            for await event in handle.pathEvents() { late.append(event) }
            XCTAssertEqual(late, [])
        }
        // The kept streams still end, with the final `closed` event.
        let streams = await keeper.events
        for events in streams {
            var received: [PathEvent] = []
            for await event in events { received.append(event) }
            guard case .closed = received.last else { return XCTFail("no closed event: \(received)") }
        }
    }

    /// Everything strong lives in here, so nothing survives in the test's frame.
    private static func connectAndClose(
        keeper: HandleKeeper,
        serverProbe: DeinitProbe,
        clientProbe: DeinitProbe
    ) async throws -> WeakReferences {
        let server = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"],
            hooks: [KeepingHook(keeper: keeper, probe: serverProbe)])
        let client = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: [], hooks: [KeepingHook(keeper: keeper, probe: clientProbe)])
        let connection = try await client.connect(to: server.address, alpn: "echo/1")
        guard let accepted = try await server.accept() else { throw TimeoutError() }
        let (send, receive) = try await connection.openBidirectionalStream()
        try await send.write([1, 2, 3], finish: true)
        let (serverSend, serverReceive) = try await accepted.acceptBidirectionalStream()
        while try await serverReceive.read() != nil {}
        try await serverSend.write([4], finish: true)
        while try await receive.read() != nil {}
        let references = WeakReferences()
        references.server = server
        references.client = client
        references.connection = connection
        references.accepted = accepted
        connection.close(code: 0, reason: "done")
        _ = await accepted.closed
        _ = await connection.closed
        await client.close()
        await server.close()
        return references
    }
}

/// Weak references to an exchange's objects, to check they were freed.
final class WeakReferences: @unchecked Sendable {
    weak var server: Endpoint?
    weak var client: Endpoint?
    weak var connection: Connection?
    weak var accepted: Connection?
}

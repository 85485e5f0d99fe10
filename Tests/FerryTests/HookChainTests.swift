@testable import Ferry
import XCTest

/// Accepts at every stage and records each call as "name.stage".
struct RecordingHook: EndpointHooks {
    let name: String
    let log: CallLog

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        await log.append("\(name).beforeConnect")
        return .accept
    }

    func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        await log.append("\(name).incoming")
        return .accept
    }

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        await log.append("\(name).afterHandshake")
        return .accept
    }
}

/// Rejects at every stage (after recording the call).
struct RejectingHook: EndpointHooks {
    let log: CallLog
    var incomingOutcome: IncomingOutcome = .reject

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        await log.append("reject.beforeConnect")
        return .reject
    }

    func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        await log.append("reject.incoming")
        return incomingOutcome
    }

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        await log.append("reject.afterHandshake")
        return .reject(code: 42, reason: "not on the list")
    }
}

/// Never answers and ignores cancellation until its gate opens.
struct StuckHook: EndpointHooks {
    let gate: Gate

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        await gate.wait()
        return .accept
    }

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        await gate.wait()
        return .accept
    }
}

struct PolicyError: Error, CustomStringConvertible {
    var description: String { "policy store unreachable" }
}

/// Throws at every stage.
struct ThrowingHook: EndpointHooks {
    func beforeConnect(remote: EndpointAddress, alpn: String) async throws -> BeforeConnectOutcome {
        throw PolicyError()
    }

    func incoming(_ info: IncomingInfo) async throws -> IncomingOutcome {
        throw PolicyError()
    }

    func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
        throw PolicyError()
    }
}

/// Implements nothing: every stage takes the accepting default.
struct EmptyHook: EndpointHooks {}

/// Blocks connections with ALPN "slow" until released; answers others at once.
struct SelectiveHook: EndpointHooks {
    let gate: Gate
    let entered: Signal

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        if connection.alpn == "slow" {
            entered.fire()
            await gate.wait()
        }
        return .accept
    }
}

final class HookChainTests: XCTestCase {
    func testHooksAreExistentialAndDefaultsAccept() async {
        let hooks: [any EndpointHooks] = [EmptyHook(), EmptyHook()]
        let chain = HookChain(hooks)
        let connect = await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "echo/1")
        XCTAssertEqual(connect.outcome, .accept)
        XCTAssertNil(connect.decidedBy)
        let incoming = await chain.runIncoming(HookFixtures.incoming)
        XCTAssertEqual(incoming.outcome, .accept)
        let after = await chain.runAfterHandshake(HookFixtures.connection())
        XCTAssertEqual(after.outcome, .accept)
        XCTAssertEqual(after.reason, "accepted")
    }

    func testEmptyChainAccepts() async {
        let decision = await HookChain().runAfterHandshake(HookFixtures.connection())
        XCTAssertEqual(decision, HookDecision(outcome: .accept))
    }

    func testHooksRunInInstallationOrder() async {
        let log = CallLog()
        let chain = HookChain([
            RecordingHook(name: "a", log: log), RecordingHook(name: "b", log: log), RecordingHook(name: "c", log: log),
        ])
        _ = await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "echo/1")
        _ = await chain.runIncoming(HookFixtures.incoming)
        _ = await chain.runAfterHandshake(HookFixtures.connection())
        let entries = await log.entries
        XCTAssertEqual(entries, [
            "a.beforeConnect", "b.beforeConnect", "c.beforeConnect",
            "a.incoming", "b.incoming", "c.incoming",
            "a.afterHandshake", "b.afterHandshake", "c.afterHandshake",
        ])
    }

    func testFirstRejectionShortCircuits() async {
        let log = CallLog()
        let chain = HookChain([
            RecordingHook(name: "a", log: log), RejectingHook(log: log), RecordingHook(name: "c", log: log),
        ])
        let connect = await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "echo/1")
        XCTAssertEqual(connect.outcome, .reject)
        XCTAssertEqual(connect.decidedBy, HookIdentity(position: 2, typeName: "RejectingHook"))
        XCTAssertNil(connect.failure)
        XCTAssertEqual(connect.reason, "hook 2 (RejectingHook) rejected")

        let after = await chain.runAfterHandshake(HookFixtures.connection())
        XCTAssertEqual(after.outcome, .reject(code: 42, reason: "not on the list"))
        XCTAssertEqual(after.decidedBy?.position, 2)

        let entries = await log.entries
        XCTAssertEqual(entries, ["a.beforeConnect", "reject.beforeConnect", "a.afterHandshake", "reject.afterHandshake"])
    }

    func testIncomingRetryAndIgnoreEndTheChain() async {
        for outcome in [IncomingOutcome.retry, .ignore, .reject] {
            let log = CallLog()
            let chain = HookChain([RejectingHook(log: log, incomingOutcome: outcome), RecordingHook(name: "b", log: log)])
            let decision = await chain.runIncoming(HookFixtures.incoming)
            XCTAssertEqual(decision.outcome, outcome)
            XCTAssertEqual(decision.decidedBy?.position, 1)
            let entries = await log.entries
            XCTAssertEqual(entries, ["reject.incoming"])
        }
    }

    func testThrowingHookRejectsWithReason() async {
        let log = CallLog()
        let chain = HookChain([RecordingHook(name: "a", log: log), ThrowingHook(), RecordingHook(name: "c", log: log)],
                              failureErrorCode: 0x77)
        let after = await chain.runAfterHandshake(HookFixtures.connection())
        XCTAssertEqual(after.outcome, .reject(code: 0x77, reason: "hook 2 (ThrowingHook) threw policy store unreachable"))
        XCTAssertEqual(after.failure, .threw(errorType: "PolicyError", description: "policy store unreachable"))
        let connect = await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "x")
        XCTAssertEqual(connect.outcome, .reject)
        XCTAssertEqual(connect.reason, "hook 2 (ThrowingHook) threw policy store unreachable")
        let incoming = await chain.runIncoming(HookFixtures.incoming)
        XCTAssertEqual(incoming.outcome, .reject, "a failing incoming filter refuses, never ignores")
        let entries = await log.entries
        XCTAssertEqual(entries, ["a.afterHandshake", "a.beforeConnect", "a.incoming"])
    }

    func testHookPastDeadlineRejectsWithReason() async {
        let gate = Gate()
        defer { gate.open() }
        let log = CallLog()
        let chain = HookChain(
            [RecordingHook(name: "a", log: log), StuckHook(gate: gate), RecordingHook(name: "c", log: log)],
            deadline: .milliseconds(250)
        )
        let after = await chain.runAfterHandshake(HookFixtures.connection())
        XCTAssertEqual(after.outcome, .reject(code: 1, reason: "hook 2 (StuckHook) timed out after 250ms"))
        XCTAssertEqual(after.failure, .timedOut(after: .milliseconds(250)))
        XCTAssertEqual(after.decidedBy, HookIdentity(position: 2, typeName: "StuckHook"))
        let connect = await chain.runBeforeConnect(remote: HookFixtures.address, alpn: "x")
        XCTAssertEqual(connect.outcome, .reject)
        XCTAssertEqual(connect.reason, "hook 2 (StuckHook) timed out after 250ms")
        let entries = await log.entries
        XCTAssertEqual(entries, ["a.afterHandshake", "a.beforeConnect"], "hooks after a timed-out hook never run")
    }

    func testDefaultDeadlineIsFiveSeconds() {
        XCTAssertEqual(HookChain().deadline, .seconds(5))
        XCTAssertEqual(HookFailure.timedOut(after: .seconds(5)).description, "timed out after 5s")
        XCTAssertEqual(HookFailure.format(.milliseconds(1500)), "1.5s")
        XCTAssertEqual(HookFailure.format(.milliseconds(250)), "250ms")
    }

    func testStuckHookDoesNotDelayAnotherConnection() async throws {
        let gate = Gate()
        let entered = Signal()
        let chain = HookChain([SelectiveHook(gate: gate, entered: entered)])
        let slow = Task { await chain.runAfterHandshake(HookFixtures.connection(alpn: "slow")) }
        await entered.wait()
        // The slow connection's chain is parked inside its hook; another connection's chain completes anyway.
        let fast = await chain.runAfterHandshake(HookFixtures.connection(alpn: "fast"))
        XCTAssertEqual(fast.outcome, .accept)
        gate.open()
        let slowDecision = await slow.value
        XCTAssertEqual(slowDecision.outcome, .accept)
    }

    func testCancelledChainFailsClosed() async {
        let gate = Gate()
        defer { gate.open() }
        let entered = Signal()
        let chain = HookChain([SelectiveHook(gate: gate, entered: entered)])
        let task = Task { await chain.runAfterHandshake(HookFixtures.connection(alpn: "slow")) }
        await entered.wait()
        task.cancel()
        let decision = await task.value
        XCTAssertEqual(decision.failure, .cancelled)
        XCTAssertEqual(decision.outcome, .reject(code: 1, reason: "hook 1 (SelectiveHook) was cancelled"))
    }

    func testRejectionDescription() {
        let rejection = HookRejection(stage: .beforeConnect, hook: HookIdentity(position: 1, typeName: "DenyList"))
        XCTAssertEqual(rejection.description, "beforeConnect: hook 1 (DenyList) rejected")
    }
}

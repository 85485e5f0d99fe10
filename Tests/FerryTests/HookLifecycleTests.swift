@testable import Ferry
import Logging
import XCTest

struct StartFailure: Error, CustomStringConvertible {
    var description: String { "registry unreachable" }
}

final class HookLifecycleTests: XCTestCase {
    func testStartHooksRunInOrder() async throws {
        let log = CallLog()
        var hooks = LifecycleHooks()
        hooks.onStart("one") { await log.append("one") }
        hooks.onStart("two") { await log.append("two") }
        hooks.onStart("three") { await log.append("three") }
        try await LifecycleRunner(hooks: hooks).runStart()
        let entries = await log.entries
        XCTAssertEqual(entries, ["one", "two", "three"])
    }

    func testFirstStartErrorAborts() async {
        let log = CallLog()
        var hooks = LifecycleHooks()
        hooks.onStart("one") { await log.append("one") }
        hooks.onStart("registry") { throw StartFailure() }
        hooks.onStart("three") { await log.append("three") }
        do {
            try await LifecycleRunner(hooks: hooks).runStart()
            XCTFail("start should fail")
        } catch {
            XCTAssertEqual(error.position, 2)
            XCTAssertEqual(error.name, "registry")
            XCTAssertTrue(error.underlying is StartFailure)
            XCTAssertEqual(error.description, "start hook 2 (registry) failed: registry unreachable")
        }
        let entries = await log.entries
        XCTAssertEqual(entries, ["one"])
    }

    func testShutdownHooksRunConcurrently() async {
        // Each hook waits for the other to have started: only concurrent execution can finish.
        let firstStarted = Signal()
        let secondStarted = Signal()
        var hooks = LifecycleHooks(shutdownDeadline: .seconds(30))
        hooks.onShutdown("first") {
            firstStarted.fire()
            await secondStarted.wait()
        }
        hooks.onShutdown("second") {
            secondStarted.fire()
            await firstStarted.wait()
        }
        let report = await LifecycleRunner(hooks: hooks).runShutdown()
        XCTAssertEqual(Set(report.finished), ["first", "second"])
        XCTAssertTrue(report.isComplete)
    }

    func testShutdownIsBoundedAndReportsStragglers() async {
        let gate = Gate()
        defer { gate.open() }
        let (logger, store) = CapturingLogHandler.makeLogger()
        var hooks = LifecycleHooks(shutdownDeadline: .milliseconds(500))
        hooks.onShutdown("quick") {}
        hooks.onShutdown("stuck") { await gate.wait() }
        hooks.onShutdown("broken") { throw StartFailure() }
        let report = await LifecycleRunner(hooks: hooks, logger: logger).runShutdown()
        XCTAssertEqual(report.finished, ["quick"])
        XCTAssertEqual(report.failed, ["broken": "registry unreachable"])
        XCTAssertEqual(report.unfinished, ["stuck"])
        XCTAssertFalse(report.isComplete)
        let warnings = store.records.withLock { $0.filter { $0.level == .warning } }
        XCTAssertTrue(
            warnings.contains { $0.message.contains("did not finish") && $0.metadata["hooks"] == "stuck" },
            "\(warnings)"
        )
    }

    func testDefaultShutdownDeadlineIsFiveSeconds() {
        XCTAssertEqual(LifecycleHooks().shutdownDeadline, .seconds(5))
    }

    func testNoShutdownHooksIsImmediate() async {
        let report = await LifecycleRunner(hooks: LifecycleHooks()).runShutdown()
        XCTAssertEqual(report, ShutdownReport())
    }
}

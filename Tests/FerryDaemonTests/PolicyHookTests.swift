import Ferry
import Logging
import XCTest

@testable import FerryDaemon

final class PolicyHookTests: XCTestCase {
    let recorder = DecisionRecorder(logger: Logger(label: "test"), metrics: DaemonMetrics())

    func context(_ name: String, services: Set<String>? = nil) -> PolicyHookContext {
        PolicyHookContext(name: name, type: "test", services: services, recorder: recorder)
    }

    func subject(_ hex: String, service: String = "ssh", address: String = "10.0.0.1") -> PolicySubject {
        PolicySubject(
            remoteID: EndpointID(hex: hex)!,
            alpn: "ferry/tcp/\(service)",
            side: .server,
            remoteAddress: HostPort(host: address, port: 4000)
        )
    }

    func info(_ address: String) -> IncomingInfo {
        IncomingInfo(
            remoteAddress: HostPort(host: address, port: 4000),
            localAddress: HostPort(host: "0.0.0.0", port: 7777),
            isAddressValidated: false,
            alpns: []
        )
    }

    func testAllowEndpointsRejectsUnlistedAndHonoursServiceFilter() async throws {
        let allowed = EndpointID(hex: sampleID)!
        let hook = EndpointListHook(context: context("allow", services: ["ssh"]), mode: .allow, endpoints: [allowed])
        let accepted = try await hook.evaluate(subject(sampleID), stage: .afterHandshake)
        XCTAssertEqual(accepted, .accept)
        let rejected = try await hook.evaluate(subject(otherID), stage: .afterHandshake)
        XCTAssertEqual(rejected, .reject(reason: "allow: endpoint cdcdcdcdcd is not allowed"))
        // Another service is not covered by the filter.
        let unfiltered = try await hook.evaluate(subject(otherID, service: "web"), stage: .afterHandshake)
        XCTAssertEqual(unfiltered, .accept)
    }

    func testDenyEndpoints() async throws {
        let hook = EndpointListHook(context: context("deny"), mode: .deny, endpoints: [EndpointID(hex: otherID)!])
        let first = try await hook.evaluate(subject(sampleID), stage: .afterHandshake)
        XCTAssertEqual(first, .accept)
        let second = try await hook.evaluate(subject(otherID), stage: .afterHandshake)
        XCTAssertEqual(second, .reject(reason: "deny: endpoint cdcdcdcdcd is denied"))
    }

    func testIPFiltersRunBeforeTheHandshake() async throws {
        let allow = IPFilterHook(context: context("lan"), mode: .allow, blocks: [CIDRBlock(parsing: "192.168.0.0/16")!])
        let insideOutcome = try await allow.incoming(info("192.168.4.2"))
        XCTAssertEqual(insideOutcome, .accept)
        let outsideOutcome = try await allow.incoming(info("8.8.8.8"))
        XCTAssertEqual(outsideOutcome, .reject)
        let deny = IPFilterHook(context: context("bad"), mode: .deny, blocks: [CIDRBlock(parsing: "2001:db8::/32")!])
        let deniedOutcome = try await deny.incoming(info("2001:db8::5"))
        XCTAssertEqual(deniedOutcome, .reject)
        // With a services filter the check waits until the ALPN is known.
        let filtered = IPFilterHook(context: context("f", services: ["ssh"]), mode: .deny, blocks: [CIDRBlock(parsing: "10.0.0.0/8")!])
        let early = try await filtered.incoming(info("10.1.1.1"))
        XCTAssertEqual(early, .accept)
        let late = try await filtered.evaluate(subject(sampleID, address: "10.1.1.1"), stage: .afterHandshake)
        XCTAssertEqual(late, .reject(reason: "f: address 10.1.1.1 is denied"))
    }

    func testRateLimitTokenBucketPerSource() async throws {
        let now = Locked(ContinuousClock.now)
        let hook = RateLimitHook(context: context("rl"), perSecond: 2, burst: 3, capacity: 4, clock: { now.current })
        for _ in 0..<3 { XCTAssertTrue(hook.take(from: "1.1.1.1")) }
        XCTAssertFalse(hook.take(from: "1.1.1.1"))
        XCTAssertTrue(hook.take(from: "2.2.2.2"), "buckets are per source")
        now.withLock { $0 += .milliseconds(500) }
        XCTAssertTrue(hook.take(from: "1.1.1.1"), "one token refilled after 500ms at 2/s")
        XCTAssertFalse(hook.take(from: "1.1.1.1"))
        let outcome = try await hook.incoming(info("1.1.1.1"))
        XCTAssertEqual(outcome, .reject)
        // The table stays bounded.
        for index in 0..<20 { _ = hook.take(from: "9.9.9.\(index)") }
        XCTAssertLessThanOrEqual(hook.trackedSources, 4)
    }

    func testEngineSwapsChainAtomicallyAndReevaluates() async throws {
        let directory = TemporaryDirectory()
        let registry = ConnectionRegistry()
        let allowBoth = try DaemonConfig.parse(
            "[[hooks]]\ntype = \"allow-endpoints\"\nendpoints = [\"\(sampleID)\", \"\(otherID)\"]",
            file: "a.toml",
            directory: directory.path
        )
        let allowOne = try DaemonConfig.parse(
            "[[hooks]]\ntype = \"allow-endpoints\"\nendpoints = [\"\(sampleID)\"]\n[[hooks]]\ntype = \"max-connections\"\ntotal = 1",
            file: "b.toml",
            directory: directory.path
        )
        let noPlugins: (DaemonConfig.HookSettings, DaemonConfig.PluginSettings) -> PluginClient = { _, _ in
            preconditionFailure("no plugins configured")
        }
        let engine = PolicyEngine(
            snapshot: PolicyEngine.makeSnapshot(config: allowBoth, recorder: recorder, registry: registry, plugins: noPlugins),
            recorder: recorder
        )
        let before = await engine.reevaluate(subject(otherID))
        XCTAssertEqual(before, .accept)
        engine.install(PolicyEngine.makeSnapshot(config: allowOne, recorder: recorder, registry: registry, plugins: noPlugins))
        XCTAssertEqual(engine.snapshot.chain.hooks.count, 2)
        let after = await engine.reevaluate(subject(otherID))
        XCTAssertEqual(after, .reject(reason: "allow-endpoints-1: endpoint cdcdcdcdcd is not allowed"))
        let kept = await engine.reevaluate(subject(sampleID))
        XCTAssertEqual(kept, .accept, "counting hooks are not re-run on reload")
    }

    func testDecisionsAreCounted() async throws {
        let metrics = DaemonMetrics()
        let recorder = DecisionRecorder(logger: Logger(label: "test"), metrics: metrics)
        let hook = EndpointListHook(
            context: PolicyHookContext(name: "allow", type: "allow-endpoints", services: nil, recorder: recorder),
            mode: .allow,
            endpoints: [EndpointID(hex: sampleID)!]
        )
        _ = try await hook.evaluate(subject(sampleID), stage: .afterHandshake)
        _ = try await hook.evaluate(subject(otherID), stage: .afterHandshake)
        _ = try await hook.evaluate(subject(otherID), stage: .afterHandshake)
        let text = metrics.render()
        XCTAssertTrue(text.contains(#"ferry_hook_decisions_total{hook="allow",outcome="accept"} 1"#), text)
        XCTAssertTrue(text.contains(#"ferry_hook_decisions_total{hook="allow",outcome="reject"} 2"#), text)
    }
}

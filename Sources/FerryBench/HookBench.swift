import ArgumentParser
import Ferry

/// A hook that accepts at every stage and does nothing else: what `--hooks N` installs to measure the chain's
/// own cost per connection.
struct TrivialHook: EndpointHooks {
    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome { .accept }
    func incoming(_ info: IncomingInfo) async -> IncomingOutcome { .accept }
    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome { .accept }
}

/// The interop allowlist (`ferry-bench server --allow ID`): refuses every other id after the handshake with
/// application error 0x403, so a peer sees the hook's code in CONNECTION_CLOSE (RFC 9000 §19.19).
struct AllowListHook: EndpointHooks {
    static let rejectionCode: UInt64 = 0x403
    let allowed: Set<EndpointID>

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        allowed.contains(connection.remoteID) ? .accept : .reject(code: Self.rejectionCode, reason: "not allowed")
    }
}

/// Builds the chain for `--allow` and `--hooks`: the allowlist first (when any id is given), then `count`
/// trivial hooks.
func makeBenchHooks(count: Int, allow: [String]) throws -> HookChain {
    var hooks: [any EndpointHooks] = []
    if !allow.isEmpty {
        var ids: Set<EndpointID> = []
        for text in allow {
            guard let id = EndpointID(hex: text) else { throw ValidationError("--allow \(text) is not a 64-hex endpoint id") }
            ids.insert(id)
        }
        hooks.append(AllowListHook(allowed: ids))
    }
    hooks += Array(repeating: TrivialHook() as any EndpointHooks, count: max(0, count))
    return HookChain(hooks)
}

extension FerryBenchCommand {
    /// `ferry-bench hook-chain`: the cost of running a chain of trivial hooks, without a network.
    ///
    /// Runs the `beforeConnect` and `incoming` stages (the ones a test can drive without a connection; they go
    /// through the same per-call deadline machinery as `afterHandshake`) `--iterations` times over `--hooks`
    /// hooks, and prints one JSON line with the cost per hook call and per stage run.
    struct HookChainBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hook-chain",
            abstract: "Measure the per-hook cost of HookChain with trivial hooks (no network)."
        )

        @Option(help: "Trivial hooks in the chain.")
        var hooks: Int = 10

        @Option(help: "Stage runs per stage.")
        var iterations: Int = 20_000

        func run() async throws {
            let chain = HookChain(Array(repeating: TrivialHook() as any EndpointHooks, count: max(0, hooks)))
            let identity = EndpointIdentity.generate()
            let address = EndpointAddress(id: identity.id, directAddresses: [HostPort(host: "127.0.0.1", port: 4433)])
            let info = IncomingInfo(
                remoteAddress: HostPort(host: "127.0.0.1", port: 5000),
                localAddress: HostPort(host: "127.0.0.1", port: 4433),
                isAddressValidated: false,
                alpns: []
            )
            // Warm up allocators and the cooperative pool.
            for _ in 0..<min(iterations, 1000) {
                _ = await chain.runBeforeConnect(remote: address, alpn: "perf")
            }
            let clock = ContinuousClock()
            let start = clock.now
            var rejected = 0
            for _ in 0..<iterations {
                if await chain.runBeforeConnect(remote: address, alpn: "perf").outcome != .accept { rejected += 1 }
                if await chain.runIncoming(info).outcome != .accept { rejected += 1 }
            }
            let elapsed = start.duration(to: clock.now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let stageRuns = Double(iterations * 2)
            let perStage = seconds / stageRuns * 1e6
            let perHook = hooks > 0 ? perStage / Double(hooks) : 0
            printLine(
                "{\"hooks\":\(hooks),\"stage_runs\":\(iterations * 2),\"seconds\":\(format(seconds, 4)),"
                    + "\"us_per_stage\":\(format(perStage, 3)),\"us_per_hook_call\":\(format(perHook, 3)),"
                    + "\"rejected\":\(rejected)}"
            )
            if rejected > 0 { throw ExitCode(1) }
        }
    }
}

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
    /// Runs the `beforeConnect` and `incoming` stages (the ones that need no connection; they go through the same
    /// deadline machinery as `afterHandshake`) over a chain of `--hooks` trivial hooks and, interleaved in rounds
    /// so load drift hits both alike, over a chain of one. Prints one JSON line: the cost of a stage run with one
    /// hook (the fixed cost of having hooks at all), with N hooks, and the marginal cost of each further hook
    /// (`(tN - t1) / (N - 1)`). A connection runs two stages on each side (dialer: beforeConnect and
    /// afterHandshake; listener: incoming and afterHandshake), so its per-hook cost is twice the marginal figure.
    struct HookChainBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hook-chain",
            abstract: "Measure the per-hook cost of HookChain with trivial hooks (no network)."
        )

        @Option(help: "Trivial hooks in the measured chain (at least 2).")
        var hooks: Int = 10

        @Option(help: "Stage runs per stage and chain in each round.")
        var iterations: Int = 5_000

        @Option(help: "Rounds (each measures both chains).")
        var rounds: Int = 4

        @Flag(help: "Use the delivering form the runtime uses for incoming and afterHandshake (no worker task).")
        var deliver = false

        func run() async throws {
            let count = max(2, hooks)
            let single = HookChain([TrivialHook()])
            let many = HookChain(Array(repeating: TrivialHook() as any EndpointHooks, count: count))
            let identity = EndpointIdentity.generate()
            let address = EndpointAddress(id: identity.id, directAddresses: [HostPort(host: "127.0.0.1", port: 4433)])
            let info = IncomingInfo(
                remoteAddress: HostPort(host: "127.0.0.1", port: 5000),
                localAddress: HostPort(host: "127.0.0.1", port: 4433),
                isAddressValidated: false,
                alpns: []
            )
            var rejected = 0
            /// Seconds for `iterations` runs of both stages on `chain`.
            func measure(_ chain: HookChain) async -> Double {
                let clock = ContinuousClock()
                let start = clock.now
                if deliver {
                    let refusals = Refusals()
                    for _ in 0..<iterations {
                        await chain.runBeforeConnect(remote: address, alpn: "perf") { refusals.count($0.outcome != .accept) }
                        await chain.runIncoming(info) { refusals.count($0.outcome != .accept) }
                    }
                    rejected += refusals.value
                } else {
                    for _ in 0..<iterations {
                        if await chain.runBeforeConnect(remote: address, alpn: "perf").outcome != .accept { rejected += 1 }
                        if await chain.runIncoming(info).outcome != .accept { rejected += 1 }
                    }
                }
                let elapsed = start.duration(to: clock.now)
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            _ = await measure(single)  // Warm up allocators and the cooperative pool.
            var singleSeconds = 0.0
            var manySeconds = 0.0
            for _ in 0..<max(1, rounds) {
                singleSeconds += await measure(single)
                manySeconds += await measure(many)
            }
            let stageRuns = Double(iterations * 2 * max(1, rounds))
            let singleStage = singleSeconds / stageRuns * 1e6
            let manyStage = manySeconds / stageRuns * 1e6
            let marginal = (manyStage - singleStage) / Double(count - 1)
            printLine(
                "{\"hooks\":\(count),\"form\":\"\(deliver ? "delivering" : "async")\",\"stage_runs_per_chain\":\(Int(stageRuns)),"
                    + "\"us_per_stage_1_hook\":\(format(singleStage, 3)),\"us_per_stage_\(count)_hooks\":\(format(manyStage, 3)),"
                    + "\"us_per_extra_hook_call\":\(format(marginal, 3)),"
                    + "\"us_per_extra_hook_per_connection_side\":\(format(marginal * 2, 3)),\"rejected\":\(rejected)}"
            )
            if rejected > 0 { throw ExitCode(1) }
        }
    }
}

/// Counts refusals delivered by the benchmark's chains; with trivial hooks the delivering form calls back
/// synchronously in the measuring task, so a lock-free counter is enough.
final class Refusals: @unchecked Sendable {
    private(set) var value = 0

    func count(_ refused: Bool) {
        if refused { value += 1 }
    }
}

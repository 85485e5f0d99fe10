import Ferry
import Logging

/// The daemon's hook chain as one `EndpointHooks`, swappable atomically on reload.
///
/// The endpoint is given this single hook; it runs the current `HookChain` of configured hooks (first rejection
/// wins, deadline per hook, fail closed). A reload builds a new chain and swaps it in one assignment, so a
/// connection is always judged by exactly one configuration, never a mix.
public final class PolicyEngine: EndpointHooks {
    /// One configuration's hooks.
    public struct Snapshot: Sendable {
        /// The configured hooks, in order.
        public var hooks: [any DaemonPolicyHook]
        /// The chain that runs them.
        public var chain: HookChain
    }

    private let current: Locked<Snapshot>
    private let recorder: DecisionRecorder
    /// When each pending incoming attempt reached the incoming filter, by source address (bounded), so the
    /// server side's handshake latency can be measured.
    private let incomingSince = Locked([HostPort: ContinuousClock.Instant]())
    private static let incomingSinceLimit = 4096

    /// Creates an engine running `snapshot`.
    public init(snapshot: Snapshot, recorder: DecisionRecorder) {
        self.current = Locked(snapshot)
        self.recorder = recorder
    }

    /// The chain in force.
    public var snapshot: Snapshot { current.current }

    /// Replaces the chain; connections decided from now on use the new one.
    public func install(_ snapshot: Snapshot) {
        current.withLock { $0 = snapshot }
    }

    public func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        let snapshot = current.current
        let decision = await snapshot.chain.runBeforeConnect(remote: remote, alpn: alpn)
        report(decision.failure, decidedBy: decision.decidedBy, snapshot: snapshot, stage: .beforeConnect)
        return decision.outcome
    }

    public func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        let now = ContinuousClock.now
        incomingSince.withLock { pending in
            if pending.count >= Self.incomingSinceLimit {
                // Attempts that never finished their handshake: forget the older half.
                let sorted = pending.sorted { $0.value < $1.value }
                for (address, _) in sorted.prefix(pending.count / 2) { pending.removeValue(forKey: address) }
            }
            pending[info.remoteAddress] = now
        }
        let snapshot = current.current
        let decision = await snapshot.chain.runIncoming(info)
        report(decision.failure, decidedBy: decision.decidedBy, snapshot: snapshot, stage: .incoming)
        return decision.outcome
    }

    public func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        if connection.side == .server, let since = incomingSince.withLock({ $0.removeValue(forKey: connection.remoteAddress) }) {
            recorder.metrics?.recordHandshake(duration: .now - since, side: "server")
        }
        let snapshot = current.current
        let decision = await snapshot.chain.runAfterHandshake(connection)
        report(decision.failure, decidedBy: decision.decidedBy, snapshot: snapshot, stage: .afterHandshake)
        if case .reject(let code, let reason) = decision.outcome, decision.failure != nil {
            return .reject(code: code == snapshot.chain.failureErrorCode ? policyRejectionCode : code, reason: reason)
        }
        if case .accept = decision.outcome { recorder.metrics?.observePaths(of: connection) }
        return decision.outcome
    }

    /// Runs the post-handshake checks of the current chain for an established connection (reload
    /// re-evaluation); counting hooks are skipped, a failing hook counts as a rejection.
    public func reevaluate(_ subject: PolicySubject) async -> PolicyVerdict {
        let snapshot = current.current
        for hook in snapshot.hooks where hook.isReevaluable {
            do {
                let verdict = try await hook.evaluate(subject, stage: .afterHandshake)
                if case .reject = verdict { return verdict }
            } catch {
                return .reject(reason: "\(hook.context.name) failed: \(error)")
            }
        }
        return .accept
    }

    /// Hooks that threw or timed out are counted as `error` (the hooks record their own answers).
    private func report(_ failure: HookFailure?, decidedBy: HookIdentity?, snapshot: Snapshot, stage: HookStage) {
        guard let failure, let decidedBy else { return }
        let index = decidedBy.position - 1
        let name = snapshot.hooks.indices.contains(index) ? snapshot.hooks[index].context.name : decidedBy.description
        recorder.recordFailure(hook: name, stage: stage, reason: failure.description)
    }
}

extension PolicyEngine {
    /// Builds the hooks a configuration describes.
    ///
    /// `plugins` supplies the running plugin client for a hook (kept across reloads when the command is
    /// unchanged); it is called for each `plugin` hook.
    public static func makeSnapshot(
        config: DaemonConfig,
        recorder: DecisionRecorder,
        registry: ConnectionRegistry,
        plugins: (DaemonConfig.HookSettings, DaemonConfig.PluginSettings) -> PluginClient
    ) -> Snapshot {
        makeSnapshot(
            hooks: config.hooks, hookTimeout: config.endpoint.hookTimeout, recorder: recorder, registry: registry,
            plugins: plugins)
    }

    /// Builds a chain from hook settings alone: ferry-relay runs the same `[[hooks]]` against relay clients.
    package static func makeSnapshot(
        hooks settingsList: [DaemonConfig.HookSettings],
        hookTimeout: Duration,
        recorder: DecisionRecorder,
        registry: ConnectionRegistry,
        plugins: (DaemonConfig.HookSettings, DaemonConfig.PluginSettings) -> PluginClient
    ) -> Snapshot {
        var hooks: [any DaemonPolicyHook] = []
        for settings in settingsList {
            let context = PolicyHookContext(
                name: settings.name,
                type: settings.kind.typeName,
                services: settings.services,
                recorder: recorder
            )
            switch settings.kind {
            case .log(let level):
                hooks.append(LogHook(context: context, level: level))
            case .allowEndpoints(let ids):
                hooks.append(EndpointListHook(context: context, mode: .allow, endpoints: ids))
            case .denyEndpoints(let ids):
                hooks.append(EndpointListHook(context: context, mode: .deny, endpoints: ids))
            case .allowIPs(let blocks):
                hooks.append(IPFilterHook(context: context, mode: .allow, blocks: blocks))
            case .denyIPs(let blocks):
                hooks.append(IPFilterHook(context: context, mode: .deny, blocks: blocks))
            case .rateLimit(let perSecond, let burst):
                hooks.append(RateLimitHook(context: context, perSecond: perSecond, burst: burst))
            case .maxConnections(let perEndpoint, let total):
                hooks.append(MaxConnectionsHook(context: context, perEndpoint: perEndpoint, total: total, registry: registry))
            case .plugin(let plugin):
                hooks.append(PluginHook(context: context, client: plugins(settings, plugin), onError: plugin.onError))
            }
        }
        let chain = HookChain(hooks.map { $0 as any EndpointHooks }, deadline: hookTimeout, failureErrorCode: policyRejectionCode)
        return Snapshot(hooks: hooks, chain: chain)
    }
}

extension PolicyEngine {
    /// Runs every hook's pre- and post-handshake checks for a connection the runtime already accepted (used
    /// when the runtime does not run the chain itself). A failing hook counts as a rejection.
    public func admit(_ subject: PolicySubject, info: IncomingInfo) async -> PolicyVerdict {
        let snapshot = self.snapshot
        for hook in snapshot.hooks {
            do {
                // Pre-handshake checks are about who connects to us; dialed connections skip them.
                if subject.side == .server, hook.context.services == nil {
                    let early = try await hook.checkIncoming(info)
                    if case .reject(let reason) = early {
                        hook.context.recorder.record(hook: hook.context, stage: .incoming, verdict: early, peer: "\(info.remoteAddress)")
                        return .reject(reason: "\(hook.context.name): \(reason)")
                    }
                }
                let verdict = try await hook.evaluate(subject, stage: .afterHandshake)
                if case .reject = verdict { return verdict }
            } catch {
                hook.context.recorder.recordFailure(hook: hook.context.name, stage: .afterHandshake, reason: "\(error)")
                return .reject(reason: "\(hook.context.name) failed: \(error)")
            }
        }
        return .accept
    }
}

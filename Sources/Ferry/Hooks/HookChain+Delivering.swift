/// The chain stages in delivering form: the hooks run in the calling task and the decision goes to a callback.
///
/// The `async` stages (`runIncoming(_:)` and friends) start a worker task per run so that they can return at a
/// hook's deadline even if the hook never does. A caller that consumes the decision somewhere else anyway (the
/// runtime hops to its event loop) can skip that task: here the calling task is the worker, and `deliver` is
/// called exactly once, by whichever comes first of the chain's answer, the current hook's deadline (fired by
/// the shared watchdog, while the calling task stays inside the stuck hook until it returns; its late answer is
/// dropped) and the calling task's cancellation. Ordering, short-circuit and fail-closed rules are the same.
extension HookChain {
    /// `beforeConnect` in delivering form (see the extension's summary).
    public func runBeforeConnect(
        remote: EndpointAddress,
        alpn: String,
        deliver: @escaping @Sendable (HookDecision<BeforeConnectOutcome>) -> Void
    ) async {
        await runDelivering(accept: .accept, onFailure: { _, _ in .reject }, deliver: deliver) { hook in
            try await hook.beforeConnect(remote: remote, alpn: alpn)
        }
    }

    /// The incoming filter in delivering form (see the extension's summary); a failing hook counts as `.reject`.
    public func runIncoming(
        _ info: IncomingInfo,
        deliver: @escaping @Sendable (HookDecision<IncomingOutcome>) -> Void
    ) async {
        await runDelivering(accept: .accept, onFailure: { _, _ in .reject }, deliver: deliver) { hook in
            try await hook.incoming(info)
        }
    }

    /// `afterHandshake` in delivering form (see the extension's summary); a failing hook yields
    /// `.reject(code: failureErrorCode, reason:)` naming it.
    public func runAfterHandshake(
        _ connection: HookConnection,
        deliver: @escaping @Sendable (HookDecision<AfterHandshakeOutcome>) -> Void
    ) async {
        let code = failureErrorCode
        await runDelivering(
            accept: .accept,
            onFailure: { identity, failure in .reject(code: code, reason: "\(identity) \(failure)") },
            deliver: deliver
        ) { hook in
            try await hook.afterHandshake(connection)
        }
    }

    private func runDelivering<Outcome: Sendable & Hashable>(
        accept: Outcome,
        onFailure: @escaping @Sendable (HookIdentity, HookFailure) -> Outcome,
        deliver: @escaping @Sendable (HookDecision<Outcome>) -> Void,
        _ call: @escaping @Sendable (any EndpointHooks) async throws -> Outcome
    ) async {
        let chain = self
        await HookDeadline.runDelivering(hooks: hooks, accept: accept, deadline: deadline, call) { result in
            deliver(chain.decision(from: result, accept: accept, onFailure: onFailure))
        }
    }
}

/// The installed `EndpointHooks`, run as a chain at each stage (design.md, "Hook model").
///
/// Semantics, the same at every stage:
/// - hooks run one after another in installation order, and the first rejection ends the chain (later hooks
///   are not called);
/// - each call has a deadline (`deadline`, 5 s by default); a hook that throws or runs past it counts as a
///   rejection (fail closed), and the reason names it: "hook 2 (MyHook) timed out after 5s";
/// - the chain is plain `async` code: the runtime runs it in a task of its own per connection, so a slow hook
///   delays only the connection it is deciding on, never the event loop or other connections.
public struct HookChain: Sendable, ExpressibleByArrayLiteral {
    /// The hooks, in installation order.
    public var hooks: [any EndpointHooks]
    /// How long one hook call may take before it counts as a rejection.
    public var deadline: Duration
    /// The application error code sent to the peer when an `afterHandshake` hook throws or times out, and when
    /// the incoming filter refuses a connection the runtime could only stop after its handshake.
    public var failureErrorCode: UInt64

    /// Creates a chain; an empty chain accepts everything without spawning any task.
    public init(_ hooks: [any EndpointHooks], deadline: Duration = .seconds(5), failureErrorCode: UInt64 = 1) {
        self.hooks = hooks
        self.deadline = deadline
        self.failureErrorCode = failureErrorCode
    }

    /// An empty chain: accepts everything.
    public init() {
        self.init([])
    }

    /// Creates a chain with the default deadline: `hooks: [AllowList(), AuditLog()]`.
    public init(arrayLiteral hooks: any EndpointHooks...) {
        self.init(hooks)
    }

    /// Whether no hook is installed (the runtime can skip the chain entirely).
    public var isEmpty: Bool { hooks.isEmpty }

    /// Runs `beforeConnect` on every hook until one rejects.
    public func runBeforeConnect(remote: EndpointAddress, alpn: String) async -> HookDecision<BeforeConnectOutcome> {
        await run(accept: .accept, onFailure: { _, _ in .reject }) { hook in
            try await hook.beforeConnect(remote: remote, alpn: alpn)
        }
    }

    /// Runs the incoming filter on every hook until one answers anything but `.accept`.
    ///
    /// A hook that fails counts as `.reject` (CONNECTION_REFUSED), never `.ignore`, so the client learns why.
    public func runIncoming(_ info: IncomingInfo) async -> HookDecision<IncomingOutcome> {
        await run(accept: .accept, onFailure: { _, _ in .reject }) { hook in
            try await hook.incoming(info)
        }
    }

    /// Runs `afterHandshake` on every hook until one rejects.
    ///
    /// A hook that fails yields `.reject(code: failureErrorCode, reason:)` with a reason naming it, ready to be
    /// sent in CONNECTION_CLOSE.
    public func runAfterHandshake(_ connection: HookConnection) async -> HookDecision<AfterHandshakeOutcome> {
        let code = failureErrorCode
        return await run(accept: .accept, onFailure: { identity, failure in
            .reject(code: code, reason: "\(identity) \(failure)")
        }) { hook in
            try await hook.afterHandshake(connection)
        }
    }

    /// The chain: each hook in order under the deadline; the first answer other than `accept` decides.
    private func run<Outcome: Sendable & Hashable>(
        accept: Outcome,
        onFailure: (HookIdentity, HookFailure) -> Outcome,
        _ call: @escaping @Sendable (any EndpointHooks) async throws -> Outcome
    ) async -> HookDecision<Outcome> {
        let result = await HookDeadline.run(hooks: hooks, accept: accept, deadline: deadline, call)
        return decision(from: result, accept: accept, onFailure: onFailure)
    }

    /// Turns how a run ended into a decision naming the hook that decided or failed.
    func decision<Outcome: Sendable & Hashable>(
        from result: HookDeadline.Result<Outcome>,
        accept: Outcome,
        onFailure: (HookIdentity, HookFailure) -> Outcome
    ) -> HookDecision<Outcome> {
        let index: Int
        let failure: HookFailure
        switch result {
        case .accepted:
            return HookDecision(outcome: accept)
        case .decided(let position, let outcome):
            return HookDecision(outcome: outcome, decidedBy: identity(at: position))
        case .threw(let position, let error):
            index = position
            failure = .threw(errorType: String(describing: type(of: error)), description: "\(error)")
        case .timedOut(let position):
            index = position
            failure = .timedOut(after: deadline)
        case .cancelled(let position):
            index = position
            failure = .cancelled
        }
        let hook = identity(at: index)
        return HookDecision(outcome: onFailure(hook, failure), decidedBy: hook, failure: failure)
    }

    /// "hook 2 (MyHook)" for the hook at a 0-based index.
    private func identity(at index: Int) -> HookIdentity {
        HookIdentity(position: index + 1, typeName: String(describing: type(of: hooks[index])))
    }
}

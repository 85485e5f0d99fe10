/// Runs one stage of a hook chain under per-call deadlines without ever waiting for a hook that refuses to finish.
///
/// A worker task calls the hooks one after another; the caller waits on a continuation that is resumed by the
/// first of: the worker's answer, the current hook's deadline (fired by the shared `HookWatchdog`), or the
/// caller's cancellation. A timed-out or cancelled run abandons the worker (cancelling it), so a hook that
/// ignores cancellation stalls nobody. One task and one watchdog entry per run, whatever the number of hooks:
/// each further hook costs a lock and a clock read. The watchdog entry keeps the first hook's deadline; when it
/// fires while a later hook runs, the run re-arms it for that hook's own deadline instead of timing out.
enum HookDeadline {
    /// How a run ended; `index` is the 0-based position of the hook that decided (or failed).
    enum Result<Outcome: Sendable>: Sendable {
        /// Every hook answered `accept`.
        case accepted
        /// The hook at `index` answered something other than `accept`.
        case decided(index: Int, Outcome)
        /// The hook at `index` threw.
        case threw(index: Int, any Error)
        /// The hook at `index` ran past its deadline.
        case timedOut(index: Int)
        /// The caller was cancelled while the hook at `index` ran.
        case cancelled(index: Int)
    }

    static func run<Hook: Sendable, Outcome: Sendable & Equatable>(
        hooks: [Hook],
        accept: Outcome,
        deadline: Duration,
        watchdog: HookWatchdog = .shared,
        _ call: @escaping @Sendable (Hook) async throws -> Outcome
    ) async -> Result<Outcome> {
        if hooks.isEmpty { return .accepted }
        let run = Run<Outcome>(deadline: deadline, watchdog: watchdog)
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                guard run.install(continuation) else { return }
                run.armWatchdog(at: .now + deadline)
                let worker = Task { await work(hooks: hooks, run: run, accept: accept, call) }
                run.setWorker(worker)
            }
        } onCancel: {
            run.finish { .cancelled(index: $0) }
        }
    }

    /// Runs the hooks in the calling task and hands the result to `deliver` exactly once: when the chain answers,
    /// when the current hook's deadline passes (the watchdog delivers; the calling task stays inside the stuck
    /// hook until it returns, and its late answer is dropped), or when the calling task is cancelled.
    ///
    /// For callers that consume the result elsewhere (the runtime hops to its event loop): it saves the worker
    /// task and the caller's suspension that `run` needs.
    static func runDelivering<Hook: Sendable, Outcome: Sendable & Equatable>(
        hooks: [Hook],
        accept: Outcome,
        deadline: Duration,
        watchdog: HookWatchdog = .shared,
        _ call: @escaping @Sendable (Hook) async throws -> Outcome,
        deliver: @escaping @Sendable (Result<Outcome>) -> Void
    ) async {
        if hooks.isEmpty { return deliver(.accepted) }
        let run = Run<Outcome>(deadline: deadline, watchdog: watchdog)
        run.install(deliver)
        await withTaskCancellationHandler {
            run.armWatchdog(at: .now + deadline)
            await work(hooks: hooks, run: run, accept: accept, call)
        } onCancel: {
            run.finish { .cancelled(index: $0) }
        }
    }

    /// Calls the hooks in order until one answers other than `accept`, throws, or the run ended meanwhile.
    private static func work<Hook: Sendable, Outcome: Sendable & Equatable>(
        hooks: [Hook],
        run: Run<Outcome>,
        accept: Outcome,
        _ call: @Sendable (Hook) async throws -> Outcome
    ) async {
        for (index, hook) in hooks.enumerated() {
            if index > 0 {
                guard run.advance(to: index) else { return }
            }
            do {
                let outcome = try await call(hook)
                if outcome != accept {
                    run.finish { _ in .decided(index: index, outcome) }
                    return
                }
            } catch {
                run.finish { _ in .threw(index: index, error) }
                return
            }
        }
        run.finish { _ in .accepted }
    }

    /// The state one run shares between the caller, the worker, the watchdog and the cancellation handler.
    private final class Run<Outcome: Sendable>: Sendable {
        private struct State {
            var current = 0
            /// When the current hook's deadline passes.
            var currentDeadline: ContinuousClock.Instant?
            var continuation: UnsafeContinuation<Result<Outcome>, Never>?
            var deliver: (@Sendable (Result<Outcome>) -> Void)?
            var result: Result<Outcome>?
            var worker: Task<Void, Never>?
            var watchdogID: UInt64?
        }

        private let state = HookLock(State())
        private let deadline: Duration
        private let watchdog: HookWatchdog

        init(deadline: Duration, watchdog: HookWatchdog) {
            self.deadline = deadline
            self.watchdog = watchdog
        }

        /// Stores the caller's continuation; false (and resumed at once) when the run already ended (cancelled
        /// before it started).
        func install(_ continuation: UnsafeContinuation<Result<Outcome>, Never>) -> Bool {
            let early: Result<Outcome>? = state.withLock { state in
                if let result = state.result { return result }
                state.continuation = continuation
                return nil
            }
            guard let early else { return true }
            continuation.resume(returning: early)
            return false
        }

        /// Arms the watchdog for the first hook's deadline.
        func armWatchdog(at instant: ContinuousClock.Instant) {
            state.withLock { $0.currentDeadline = instant }
            let id = watchdog.arm(deadline: instant) { [self] in self.deadlinePassed() }
            let finished = state.withLock { state in
                state.watchdogID = id
                return state.result != nil
            }
            if finished { watchdog.disarm(id) }
        }

        /// The watchdog fired: time out the current hook if its own deadline has passed, else wait for it.
        private func deadlinePassed() {
            let now = ContinuousClock.now
            let rearm: ContinuousClock.Instant? = state.withLock { state in
                guard state.result == nil, let deadline = state.currentDeadline, deadline > now else { return nil }
                return deadline
            }
            if let rearm {
                let id = watchdog.arm(deadline: rearm) { [self] in self.deadlinePassed() }
                let finished = state.withLock { state in
                    state.watchdogID = id
                    return state.result != nil
                }
                if finished { watchdog.disarm(id) }
                return
            }
            finish { .timedOut(index: $0) }
        }

        /// Stores the callback of a delivering run (before anything can finish it).
        func install(_ deliver: @escaping @Sendable (Result<Outcome>) -> Void) {
            state.withLock { $0.deliver = deliver }
        }

        func setWorker(_ worker: Task<Void, Never>) {
            let abandon = state.withLock { state in
                state.worker = worker
                if case .some(.cancelled) = state.result { return true }
                if case .some(.timedOut) = state.result { return true }
                return false
            }
            if abandon { worker.cancel() }
        }

        /// The worker moves on to hook `index`; false when the run already ended (timed out or cancelled).
        func advance(to index: Int) -> Bool {
            let deadline = ContinuousClock.now + self.deadline
            return state.withLock { state in
                guard state.result == nil else { return false }
                state.current = index
                state.currentDeadline = deadline
                return true
            }
        }

        /// Ends the run with `make(currentIndex)` unless it already ended; resumes the caller once.
        func finish(_ make: (Int) -> Result<Outcome>) {
            let ending:
                (
                    UnsafeContinuation<Result<Outcome>, Never>?, (@Sendable (Result<Outcome>) -> Void)?, Result<Outcome>,
                    Task<Void, Never>?, UInt64?
                )? =
                state.withLock { state in
                    guard state.result == nil else { return nil }
                    let result = make(state.current)
                    state.result = result
                    let continuation = state.continuation
                    state.continuation = nil
                    let deliver = state.deliver
                    state.deliver = nil
                    let worker = state.worker
                    state.worker = nil
                    let watchdogID = state.watchdogID
                    state.watchdogID = nil
                    return (continuation, deliver, result, worker, watchdogID)
                }
            guard let (continuation, deliver, result, worker, watchdogID) = ending else { return }
            if let watchdogID { watchdog.disarm(watchdogID) }
            switch result {
            case .timedOut, .cancelled: worker?.cancel()
            case .accepted, .decided, .threw: break
            }
            continuation?.resume(returning: result)
            deliver?(result)
        }
    }
}

import Logging

/// Runs `LifecycleHooks`: the runtime calls `runStart()` before the socket accepts packets and
/// `runShutdown()` when the endpoint closes.
///
/// Standalone so it can be tested without a socket and reused by anything with a start/stop life (the Router,
/// a daemon's services).
public struct LifecycleRunner: Sendable {
    /// The hooks to run.
    public let hooks: LifecycleHooks
    /// Where failures and stragglers are reported.
    public let logger: Logger

    /// Creates a runner for `hooks`, logging to `logger`.
    public init(hooks: LifecycleHooks, logger: Logger = Logger(label: "ferry.lifecycle")) {
        self.hooks = hooks
        self.logger = logger
    }

    /// Runs the start hooks one after another; the first error stops the sequence and is rethrown.
    ///
    /// No deadline applies: a start hook may legitimately take long (connecting to a registry), and the caller
    /// can cancel the surrounding task.
    public func runStart() async throws(StartHookError) {
        for (offset, hook) in hooks.startHooks.enumerated() {
            do {
                try await hook.body()
            } catch {
                let failure = StartHookError(position: offset + 1, name: hook.name, underlying: error)
                logger.error("start hook failed", metadata: ["hook": "\(hook.name)", "error": "\(error)"])
                throw failure
            }
        }
    }

    /// Runs every shutdown hook concurrently and returns once all finished or the deadline passed.
    ///
    /// Hooks still running at the deadline are cancelled, logged at warning level by name and abandoned, never
    /// awaited: shutdown completes anyway.
    public func runShutdown() async -> ShutdownReport {
        var report = ShutdownReport()
        let shutdownHooks = hooks.shutdownHooks
        guard !shutdownHooks.isEmpty else { return report }

        enum Signal: Sendable {
            case finished(Int)
            case failed(Int, String)
            case deadline
        }
        let (signals, continuation) = AsyncStream.makeStream(of: Signal.self)
        var tasks: [Task<Void, Never>] = []
        for (index, hook) in shutdownHooks.enumerated() {
            tasks.append(Task {
                do {
                    try await hook.body()
                    continuation.yield(.finished(index))
                } catch {
                    continuation.yield(.failed(index, "\(error)"))
                }
            })
        }
        let deadline = hooks.shutdownDeadline
        let timer = Task {
            do {
                try await Task.sleep(for: deadline)
                continuation.yield(.deadline)
            } catch {}
        }

        var pending = Set(shutdownHooks.indices)
        for await signal in signals {
            switch signal {
            case .finished(let index):
                pending.remove(index)
                report.finished.append(shutdownHooks[index].name)
            case .failed(let index, let description):
                pending.remove(index)
                report.failed[shutdownHooks[index].name] = description
                logger.warning(
                    "shutdown hook failed",
                    metadata: ["hook": "\(shutdownHooks[index].name)", "error": "\(description)"]
                )
            case .deadline:
                break
            }
            if pending.isEmpty { break }
            if case .deadline = signal { break }
        }
        timer.cancel()
        continuation.finish()
        report.unfinished = pending.sorted().map { shutdownHooks[$0].name }
        for index in pending { tasks[index].cancel() }
        if !report.unfinished.isEmpty {
            logger.warning(
                "shutdown hooks did not finish before the deadline",
                metadata: [
                    "hooks": "\(report.unfinished.joined(separator: ", "))",
                    "deadline": "\(HookFailure.format(deadline))",
                ]
            )
        }
        return report
    }
}

import NIOCore

/// How async API calls reach the driver: run on its event loop, suspend until resumed.
///
/// This is the only bridge between Swift concurrency and the loop-bound transport, so there are no locks. From
/// a task on another thread each command is one `execute` hop plus one continuation. A task already running on
/// the loop (one that prefers `Endpoint.taskExecutor`) runs the command inline instead: the body usually resumes
/// the continuation before it returns, and then the task does not suspend at all, so a stream call costs no
/// queue round trip. `read` and `write` go one step further: on the loop they first ask the driver directly
/// (`readNow`, `writeNow`) and set up a continuation and cancellation handler only when they must wait. Commands
/// from one task keep their order either way: off the loop, because the loop runs submitted work first in,
/// first out; on it, because each runs before the call returns. (Deinitialisers use `sendFromDeinit`, which
/// always queues: a release can happen anywhere, even inside driver code.)
extension NIOLoopBound where Value == EndpointDriver {
    /// Runs `body` on the loop (inline when already there) and suspends until it resumes the continuation.
    nonisolated(nonsending) func perform<Output: Sendable>(
        _ body: @escaping @Sendable (EndpointDriver, Resumer<Output>) -> Void
    ) async -> Output {
        await withUnsafeContinuation { continuation in
            run { body($0, continuation) }
        }
    }

    /// Runs `body` on the loop and returns its result.
    nonisolated(nonsending) func compute<Output: Sendable>(_ body: @escaping @Sendable (EndpointDriver) -> Output) async -> Output {
        if eventLoop.inEventLoop { return body(value) }
        return await perform { driver, resumer in resumer.resume(returning: body(driver)) }
    }

    /// Like `perform`, but task cancellation runs `cancel` on the loop; `cancel` must resume the waiter if it
    /// is still parked (FIFO order on the loop guarantees it runs after `body`).
    nonisolated(nonsending) func performCancellable<Output: Sendable>(
        _ body: @escaping @Sendable (EndpointDriver, Resumer<Output>) -> Void,
        onCancel cancel: @escaping @Sendable (EndpointDriver) -> Void
    ) async -> Output {
        let bound = self
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                bound.run { body($0, continuation) }
            }
        } onCancel: {
            // Always queued: the handler may run synchronously inside `cancel()` on any thread, even the loop's.
            bound.eventLoop.execute { cancel(bound.value) }
        }
    }

    /// Runs `body` on the loop without waiting (fire and forget); inline when already on the loop.
    func send(_ body: @escaping @Sendable (EndpointDriver) -> Void) {
        run(body)
    }

    /// Queues `body` on the loop, never inline: for deinitialisers, which may run inside driver code.
    func sendFromDeinit(_ body: @escaping @Sendable (EndpointDriver) -> Void) {
        let bound = self
        bound.eventLoop.execute { body(bound.value) }
    }

    private func run(_ body: @escaping @Sendable (EndpointDriver) -> Void) {
        if eventLoop.inEventLoop {
            body(value)
        } else {
            let bound = self
            bound.eventLoop.execute { body(bound.value) }
        }
    }
}

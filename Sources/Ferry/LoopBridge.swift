import NIOCore

/// How async API calls reach the driver: hop onto its event loop, run there, suspend until resumed.
///
/// This is the only bridge between Swift concurrency and the loop-bound transport, so there are no locks: each
/// command is one `execute` hop plus one continuation. Commands submitted from one task keep their order
/// because the loop runs submitted work first in, first out.
extension NIOLoopBound where Value == EndpointDriver {
    /// Runs `body` on the loop and suspends until it resumes the continuation.
    func perform<Output: Sendable>(
        _ body: @escaping @Sendable (EndpointDriver, Resumer<Output>) -> Void
    ) async -> Output {
        await withUnsafeContinuation { continuation in
            let bound = self
            bound.eventLoop.execute { body(bound.value, continuation) }
        }
    }

    /// Runs `body` on the loop and returns its result.
    func compute<Output: Sendable>(_ body: @escaping @Sendable (EndpointDriver) -> Output) async -> Output {
        await perform { driver, resumer in resumer.resume(returning: body(driver)) }
    }

    /// Like `perform`, but task cancellation runs `cancel` on the loop; `cancel` must resume the waiter if it
    /// is still parked (FIFO order on the loop guarantees it runs after `body`).
    func performCancellable<Output: Sendable>(
        _ body: @escaping @Sendable (EndpointDriver, Resumer<Output>) -> Void,
        onCancel cancel: @escaping @Sendable (EndpointDriver) -> Void
    ) async -> Output {
        let bound = self
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                bound.eventLoop.execute { body(bound.value, continuation) }
            }
        } onCancel: {
            bound.eventLoop.execute { cancel(bound.value) }
        }
    }

    /// Runs `body` on the loop without waiting (fire and forget).
    func send(_ body: @escaping @Sendable (EndpointDriver) -> Void) {
        let bound = self
        bound.eventLoop.execute { body(bound.value) }
    }
}

import NIOCore

/// The endpoint's event loop as a Swift task executor (SE-0417), so tasks that make many small stream calls can
/// run on the same thread as the driver.
///
/// Every async call on a connection or stream is a command the driver runs on its loop (`LoopBridge.swift`).
/// From a task on the global concurrent executor each call costs two thread handoffs: waking the loop for the
/// command, and waking a pool thread to resume the caller. A task that prefers this executor
/// (`withTaskExecutorPreference(endpoint.taskExecutor)`) already runs on the loop, so both handoffs become
/// entries in the loop's own queue: no wakeups, no cross-core cache traffic. The cost is that the task's own
/// work shares the loop's thread with packet processing, so use it for tasks that mostly wait on the endpoint
/// (request/response traffic, many small streams), not for heavy computation.
///
/// One instance per endpoint (`EndpointCore`), so it outlives every task that prefers it.
final class LoopTaskExecutor: Sendable {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }
}

@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
extension LoopTaskExecutor: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

extension Endpoint {
    /// A task executor that runs jobs on this endpoint's event loop (SE-0417).
    ///
    /// Run request/response code under `withTaskExecutorPreference(endpoint.taskExecutor) { ... }` (child tasks
    /// inherit the preference) and every stream call completes without a thread handoff. Results are the same
    /// on any executor; only the cost per call changes (see `docs/benchmarks.md`).
    @available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
    public var taskExecutor: any TaskExecutor {
        core.loopExecutor
    }
}

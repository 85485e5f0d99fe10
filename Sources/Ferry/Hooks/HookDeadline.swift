/// Runs one hook call against a deadline without ever waiting for a hook that refuses to finish.
///
/// A task group would wait for its children even after cancelling them, so one hook that ignores cancellation
/// could stall the chain forever. Instead the call and a timer run as unstructured tasks that race to yield into
/// a one-element stream; the first answer wins and the loser is cancelled and abandoned.
enum HookDeadline {
    enum Result<Value: Sendable>: Sendable {
        case finished(Value)
        case threw(any Error)
        case timedOut
        case cancelled
    }

    static func run<Value: Sendable>(
        deadline: Duration,
        _ operation: @escaping @Sendable () async throws -> Value
    ) async -> Result<Value> {
        let (stream, continuation) = AsyncStream.makeStream(of: Result<Value>.self, bufferingPolicy: .bufferingOldest(1))
        let work = Task {
            do {
                continuation.yield(.finished(try await operation()))
            } catch {
                continuation.yield(.threw(error))
            }
        }
        let timer = Task {
            do {
                try await Task.sleep(for: deadline)
                continuation.yield(.timedOut)
            } catch {
                // Cancelled because the call finished first.
            }
        }
        var iterator = stream.makeAsyncIterator()
        let first = await withTaskCancellationHandler {
            await iterator.next()
        } onCancel: {
            continuation.yield(.cancelled)
        }
        work.cancel()
        timer.cancel()
        continuation.finish()
        return first ?? .cancelled
    }
}

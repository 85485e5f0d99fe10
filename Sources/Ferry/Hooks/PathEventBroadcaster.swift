import FerryTransport

/// Fans a connection's path events out to any number of subscribers, each with a bounded buffer.
///
/// The runtime calls `publish` synchronously from the event loop, so publishing never waits for a consumer:
/// when a subscriber's buffer is full the oldest event is dropped and the subscriber later receives
/// `.lagged(missed:)` before the events that survived (the newest events describe the current state best).
/// `finish()` (connection closed) ends every subscription once its buffered events have been read.
final class PathEventBroadcaster: Sendable {
    /// How many events a subscriber may hold before the oldest are dropped.
    let bufferCapacity: Int

    private struct Subscriber {
        var buffer: [PathEvent] = []
        var head = 0
        var missed = 0
        var waiter: UnsafeContinuation<PathEvent?, Never>?
        var isFinished = false

        var bufferedCount: Int { buffer.count - head }

        mutating func popFirst() -> PathEvent? {
            if missed > 0 {
                defer { missed = 0 }
                return .lagged(missed: missed)
            }
            guard head < buffer.count else { return nil }
            let event = buffer[head]
            head += 1
            if head == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                head = 0
            }
            return event
        }
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        var isFinished = false
    }

    private let state = HookLock(State())

    /// Creates a broadcaster whose subscribers each buffer at most `bufferCapacity` events (at least 1).
    init(bufferCapacity: Int = 64) {
        self.bufferCapacity = max(1, bufferCapacity)
    }

    /// Starts a subscription that sees every event published from now on.
    func subscribe() -> PathEvents {
        let id: UInt64? = state.withLock { state in
            guard !state.isFinished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = Subscriber()
            return id
        }
        guard let id else { return PathEvents(subscription: nil) }
        return PathEvents(subscription: PathEventSubscription(broadcaster: self, id: id))
    }

    /// Delivers `event` to every subscriber without blocking.
    func publish(_ event: PathEvent) {
        let capacity = bufferCapacity
        let woken: [(UnsafeContinuation<PathEvent?, Never>, PathEvent)] = state.withLock { state in
            guard !state.isFinished else { return [] }
            var woken: [(UnsafeContinuation<PathEvent?, Never>, PathEvent)] = []
            for id in state.subscribers.keys {
                guard var subscriber = state.subscribers[id] else { continue }
                if let waiter = subscriber.waiter {
                    // A waiting subscriber has an empty buffer: hand the event over directly.
                    subscriber.waiter = nil
                    woken.append((waiter, event))
                } else {
                    if subscriber.bufferedCount >= capacity {
                        subscriber.head += 1
                        subscriber.missed += 1
                        if subscriber.head >= capacity {
                            // Compact so a consumer that never catches up cannot grow the array.
                            subscriber.buffer.removeFirst(subscriber.head)
                            subscriber.head = 0
                        }
                    }
                    subscriber.buffer.append(event)
                }
                state.subscribers[id] = subscriber
            }
            return woken
        }
        for (waiter, event) in woken { waiter.resume(returning: event) }
    }

    /// Ends every subscription (the connection closed); buffered events are still delivered first.
    func finish() {
        let waiters: [UnsafeContinuation<PathEvent?, Never>] = state.withLock { state in
            state.isFinished = true
            var waiters: [UnsafeContinuation<PathEvent?, Never>] = []
            for id in state.subscribers.keys {
                state.subscribers[id]?.isFinished = true
                if let waiter = state.subscribers[id]?.waiter {
                    state.subscribers[id]?.waiter = nil
                    waiters.append(waiter)
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// The number of live subscriptions (for tests and leak checks).
    var subscriberCount: Int {
        state.withLock { $0.subscribers.count }
    }

    fileprivate func next(_ id: UInt64) async -> PathEvent? {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<PathEvent?, Never>) in
                let immediate: PathEvent?? = state.withLock { state in
                    guard var subscriber = state.subscribers[id] else { return .some(nil) }
                    if let event = subscriber.popFirst() {
                        state.subscribers[id] = subscriber
                        return .some(event)
                    }
                    if subscriber.isFinished || Task.isCancelled { return .some(nil) }
                    subscriber.waiter = continuation
                    state.subscribers[id] = subscriber
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                let waiter = state.subscribers[id]?.waiter
                state.subscribers[id]?.waiter = nil
                state.subscribers[id]?.isFinished = true
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    fileprivate func unsubscribe(_ id: UInt64) {
        let waiter = state.withLock { state in state.subscribers.removeValue(forKey: id)?.waiter }
        waiter?.resume(returning: nil)
    }
}

/// Keeps one subscription registered for as long as its sequence or an iterator of it exists.
final class PathEventSubscription: Sendable {
    let broadcaster: PathEventBroadcaster
    let id: UInt64

    init(broadcaster: PathEventBroadcaster, id: UInt64) {
        self.broadcaster = broadcaster
        self.id = id
    }

    deinit {
        broadcaster.unsubscribe(id)
    }
}

/// A connection's path events as an async sequence; it ends when the connection closes.
///
/// Buffered and bounded: a consumer that falls behind receives `.lagged(missed:)` in place of the events it
/// lost, never stalls the connection. One iteration per sequence (obtain another from `pathEvents()`).
public struct PathEvents: AsyncSequence, Sendable {
    public typealias Element = PathEvent

    let subscription: PathEventSubscription?

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: subscription)
    }

    /// Yields the next path event, or nil once the connection has closed (or the task was cancelled).
    public struct Iterator: AsyncIteratorProtocol {
        let subscription: PathEventSubscription?

        public mutating func next() async -> PathEvent? {
            guard let subscription else { return nil }
            return await subscription.broadcaster.next(subscription.id)
        }
    }
}

extension EndpointDriver {
    /// Relays a connection's transport path changes (opened, selected, closed; RFC 9000 §9) to its hook
    /// subscribers. Before the connection has an observer (handshake in progress) they are dropped: the observer
    /// starts from a snapshot of the selected path.
    func publishPathEvents(_ runtime: ConnectionRuntime) {
        guard let connection = transport.connection(runtime.handle) else { return }
        if runtime.candidateGateOpenedAt != nil { notePunchedPath(runtime) }
        let socketAddress = localHostPort
        while let event = connection.pollPathEvent() {
            if case .punchRoundEnded(let result) = event {
                logger.info("punching round ended", metadata: [
                    "handle": "\(runtime.handle)", "round": "\(result.round)", "outcome": "\(result.outcome)",
                ])
            }
            guard let observer = runtime.observer else { continue }
            switch event {
            case .opened(let snapshot):
                observer.broadcaster.publish(.opened(pathInfo(snapshot, socketAddress: socketAddress)))
            case .selected(let snapshot):
                observer.broadcaster.publish(.selected(pathInfo(snapshot, socketAddress: socketAddress)))
            case .closed(let snapshot):
                observer.broadcaster.publish(
                    .closed(PathID(rawValue: snapshot.id), lastStats: PathStats(snapshot: snapshot)))
            case .punchRoundEnded(let result):
                let outcome: PunchRound.Outcome = switch result.outcome {
                case .direct(let id): .direct(PathID(rawValue: id))
                case .failed: .failed
                }
                observer.broadcaster.publish(.punchRoundEnded(PunchRound(number: result.round, outcome: outcome)))
            }
        }
    }

    /// One transport path as hooks see it: a relayed path's stand-in address becomes its relay's address and kind.
    func pathInfo(_ snapshot: PathSnapshot, socketAddress: HostPort) -> PathInfo {
        var info = PathInfo(snapshot: snapshot, socketAddress: socketAddress)
        if let route = relayRoute(of: snapshot.remoteAddress) {
            info.kind = .relayed(relay: route.relay)
            if let address = relayState.links[route.relay]?.address.directAddresses.first {
                info.remoteAddress = address
            }
        }
        return info
    }

    /// Snapshots of every path of a transport connection, as hooks see them.
    func pathInfos(of connection: TransportConnection) -> [PathInfo] {
        let socketAddress = localHostPort
        return connection.paths.map { pathInfo($0, socketAddress: socketAddress) }
    }

    /// The selected path of a transport connection, as hooks see it.
    func selectedPathInfo(of connection: TransportConnection) -> PathInfo {
        let socketAddress = localHostPort
        let snapshot = connection.paths.first { $0.isSelected }
        return snapshot.map { pathInfo($0, socketAddress: socketAddress) }
            ?? PathInfo(
                id: PathID(rawValue: 0), localAddress: socketAddress,
                remoteAddress: connection.remoteAddress.hostPort, isSelected: true,
                stats: PathStats(connection: connection.stats))
    }
}

@testable import Ferry
import Logging
import XCTest

/// Records the order in which hooks are called, across tasks.
actor CallLog {
    private(set) var entries: [String] = []

    func append(_ entry: String) {
        entries.append(entry)
    }
}

/// A one-shot signal a test can wait on and fire from another task, without sleeping.
final class Signal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func fire() {
        continuation.yield(())
    }

    /// Returns once `fire()` has been called (or the waiting task is cancelled).
    func wait() async {
        var iterator = stream.makeAsyncIterator()
        _ = await iterator.next()
    }
}

/// Blocks its callers until released, ignoring task cancellation: the worst-behaved hook possible.
final class Gate: Sendable {
    private let waiters = HookLock<(isOpen: Bool, continuations: [UnsafeContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withUnsafeContinuation { continuation in
            let resumeNow = waiters.withLock { state in
                if state.isOpen { return true }
                state.continuations.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let continuations = waiters.withLock { state in
            state.isOpen = true
            defer { state.continuations.removeAll() }
            return state.continuations
        }
        for continuation in continuations { continuation.resume() }
    }
}

/// A stand-in for the runtime's connection object.
final class FakeObservable: ConnectionObservable {
    let broadcaster = PathEventBroadcaster(bufferCapacity: 8)
    let statsValue: ConnectionStats
    let pathsValue: [PathInfo]
    let closeSignal = Signal()

    init(stats: ConnectionStats = ConnectionStats(), paths: [PathInfo] = []) {
        self.statsValue = stats
        self.pathsValue = paths
    }

    func observedStats() async -> ConnectionStats? { statsValue }
    func observedPaths() async -> [PathInfo] { pathsValue }
    func observedPathEvents() -> PathEvents { broadcaster.subscribe() }
    func observedClose() async -> ConnectionCloseReason {
        await closeSignal.wait()
        return .idleTimeout
    }
}

/// Test fixtures for hook calls.
enum HookFixtures {
    static let id = EndpointID(hex: String(repeating: "ab", count: 32))!
    static let address = EndpointAddress(id: id, directAddresses: [HostPort(host: "127.0.0.1", port: 4433)])
    static let incoming = IncomingInfo(
        remoteAddress: HostPort(host: "192.0.2.1", port: 5000),
        localAddress: HostPort(host: "0.0.0.0", port: 4433),
        isAddressValidated: false,
        alpns: ["echo/1"]
    )

    static func connection(alpn: String = "echo/1", source: FakeObservable = FakeObservable()) -> HookConnection {
        HookConnection(
            remoteID: id,
            alpn: alpn,
            side: .server,
            remoteAddress: HostPort(host: "192.0.2.1", port: 5000),
            localAddress: HostPort(host: "0.0.0.0", port: 4433),
            source: source
        )
    }
}

/// Captures log records so tests can assert what an operator would see.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    final class Store: Sendable {
        let records = HookLock<[Record]>([])
    }

    let store: Store
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    init(store: Store) {
        self.store = store
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let flattened = (event.metadata ?? [:]).mapValues { "\($0)" }
        store.records.withLock { $0.append(Record(level: event.level, message: "\(event.message)", metadata: flattened)) }
    }

    static func makeLogger() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "test") { _ in CapturingLogHandler(store: store) }, store)
    }
}

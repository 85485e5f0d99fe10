import Ferry
import Foundation

/// The daemon's live connections and per-remote history, for the control socket, metrics and limits.
///
/// Connections are registered once they passed the hook chain and removed when they close. Per remote id it also
/// keeps what outlives a connection: the addresses (paths) it was seen from and the bytes of closed connections.
public final class ConnectionRegistry: Sendable {
    /// One registered connection.
    public struct Entry: Sendable {
        /// A daemon-local number, stable for the connection's life.
        public var number: UInt64
        /// The connection.
        public var connection: Connection
        /// The service (accepted side) or tunnel target service (dialed side).
        public var service: String?
        /// When it was registered.
        public var since: Date
    }

    /// What is remembered per remote id.
    public struct RemoteHistory: Sendable {
        /// Addresses the remote was seen from.
        public var pathsSeen: Set<HostPort> = []
        /// Bytes sent to and received from it on connections that have closed.
        public var closedBytesSent: UInt64 = 0
        public var closedBytesReceived: UInt64 = 0
        /// Connections ever registered.
        public var totalConnections: UInt64 = 0
        /// The smoothed RTT of the last connection that closed (RFC 9002 §5.3), kept for `remotes`.
        public var lastRTT: Duration?
        /// When it was last seen.
        public var lastSeen: Date = Date()
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var history: [EndpointID: RemoteHistory] = [:]
        var nextNumber: UInt64 = 1
    }

    private let state = Locked(State())
    /// The most remote ids whose history is kept (least recently seen dropped first).
    public let historyLimit: Int

    /// Creates an empty registry.
    public init(historyLimit: Int = 4096) {
        self.historyLimit = historyLimit
    }

    /// Registers a connection; returns its number.
    @discardableResult
    public func register(_ connection: Connection, service: String?) -> UInt64 {
        state.withLock { state in
            let number = state.nextNumber
            state.nextNumber += 1
            state.entries[number] = Entry(number: number, connection: connection, service: service, since: Date())
            var history = state.history[connection.remoteID] ?? RemoteHistory()
            history.pathsSeen.insert(connection.remoteAddress)
            history.totalConnections += 1
            history.lastSeen = Date()
            state.history[connection.remoteID] = history
            if state.history.count > historyLimit {
                let live = Set(state.entries.values.map(\.connection.remoteID))
                if let oldest = state.history.filter({ !live.contains($0.key) }).min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                    state.history.removeValue(forKey: oldest.key)
                }
            }
            return number
        }
    }

    /// Removes a connection, folding its final byte counts into the remote's history.
    public func remove(_ number: UInt64, finalStats: ConnectionStats?) {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: number) else { return }
            if let finalStats {
                state.history[entry.connection.remoteID]?.closedBytesSent += finalStats.bytesSent
                state.history[entry.connection.remoteID]?.closedBytesReceived += finalStats.bytesReceived
                state.history[entry.connection.remoteID]?.lastRTT = finalStats.smoothedRTT
            }
            state.history[entry.connection.remoteID]?.lastSeen = Date()
        }
    }

    /// Live connections of `remote`, and in total.
    public func counts(for remote: EndpointID) -> (remote: Int, total: Int) {
        state.withLock { state in
            (state.entries.values.filter { $0.connection.remoteID == remote }.count, state.entries.count)
        }
    }

    /// The live connections, oldest first.
    public func entries() -> [Entry] {
        state.withLock { $0.entries.values.sorted { $0.number < $1.number } }
    }

    /// The per-remote history.
    public func history() -> [EndpointID: RemoteHistory] {
        state.withLock { $0.history }
    }

    /// How many connections are live.
    public var count: Int { state.withLock { $0.entries.count } }
}

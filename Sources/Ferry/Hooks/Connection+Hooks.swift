/// Read-only observation of a `Connection`, shared with hooks: paths, path events and weak handles.
extension Connection {
    /// Snapshots of the connection's paths (one today; RFC 9000 §9 migration adds more).
    public func paths() async -> [PathInfo] {
        let handle = self.handle
        return await driver.compute { $0.pathSnapshots(handle) }
    }

    /// Path events from now on, buffered and bounded (`.lagged` when the consumer falls behind); the sequence
    /// ends when the connection closes.
    public func pathEvents() async -> PathEvents {
        let handle = self.handle
        let observer = await driver.compute { $0.connections[handle]?.observer }
        return observer?.observedPathEvents() ?? PathEvents(subscription: nil)
    }

    /// A handle for monitors that must not keep the connection alive (see `WeakConnectionHandle`).
    public func weakHandle() async -> WeakConnectionHandle {
        let handle = self.handle
        let observer = await driver.compute { $0.connections[handle]?.observer }
        return WeakConnectionHandle(
            remoteID: remoteID,
            alpn: alpn,
            side: side,
            remoteAddress: remoteAddress,
            source: observer
        )
    }
}

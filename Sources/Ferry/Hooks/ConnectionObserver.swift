import FerryTransport

/// The runtime's `ConnectionObservable`: answers hook and monitor queries by hopping onto the event loop.
///
/// Owned by the connection's `ConnectionRuntime`, so it lives exactly as long as the runtime tracks the
/// connection; weak handles point at it and go nil when the connection is forgotten. It holds the endpoint only
/// weakly and never a `Connection`, so nothing reachable from a `HookConnection` can move data, and there is no
/// reference cycle with the driver (driver → runtime → observer ⇢ core, weak).
final class ConnectionObserver: ConnectionObservable {
    let handle: ConnectionHandle
    let broadcaster: PathEventBroadcaster
    private weak let core: EndpointCore?

    init(handle: ConnectionHandle, core: EndpointCore?, pathEventBufferCapacity: Int) {
        self.handle = handle
        self.core = core
        self.broadcaster = PathEventBroadcaster(bufferCapacity: pathEventBufferCapacity)
    }

    func observedStats() async -> ConnectionStats? {
        guard let core else { return nil }
        let handle = self.handle
        return await core.driver.compute { $0.stats(handle) }
    }

    func observedPaths() async -> [PathInfo] {
        guard let core else { return [] }
        let handle = self.handle
        return await core.driver.compute { $0.pathSnapshots(handle) }
    }

    func observedPathEvents() -> PathEvents {
        broadcaster.subscribe()
    }

    func observedClose() async -> ConnectionCloseReason {
        guard let core else { return .applicationClosed(errorCode: 0, reason: "endpoint closed", by: .local) }
        let handle = self.handle
        return await core.driver.perform { driver, resumer in driver.waitClosed(handle, resumer: resumer) }
    }
}

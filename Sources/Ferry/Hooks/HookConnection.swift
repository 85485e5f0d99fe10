/// What the runtime's connection object offers to hooks: read-only queries, nothing that moves data.
///
/// Keeping this an internal protocol lets the hook types be built and tested without the runtime, and limits
/// what a `HookConnection` can reach to exactly these queries.
protocol ConnectionObservable: AnyObject, Sendable {
    /// Current statistics, or nil once the connection is gone.
    func observedStats() async -> ConnectionStats?
    /// The connection's paths, empty once it is gone.
    func observedPaths() async -> [PathInfo]
    /// A new subscription to path events (ended at once if the connection is gone).
    func observedPathEvents() -> PathEvents
    /// Waits until the connection has ended and returns why.
    func observedClose() async -> ConnectionCloseReason
}

/// A read-only view of a connection, handed to `EndpointHooks.afterHandshake`.
///
/// The type is the isolation: nothing reachable from it can open, accept, read or write a stream or datagram,
/// or return a `Connection`, so a policy hook cannot interfere with the application's use of the connection
/// (design.md, "Hook model"). To keep watching a connection after the hook returns without keeping it alive,
/// take a `weakHandle()`.
public final class HookConnection: Sendable {
    /// The peer's endpoint id, proven by mutual TLS (RFC 9001 §4.4).
    public let remoteID: EndpointID
    /// The negotiated application protocol (RFC 7301).
    public let alpn: String
    /// Whether this endpoint dialed (`.client`) or accepted (`.server`).
    public let side: Side
    /// The peer's address when the handshake completed.
    public let remoteAddress: HostPort
    /// The local socket address.
    public let localAddress: HostPort

    private let source: any ConnectionObservable

    init(
        remoteID: EndpointID,
        alpn: String,
        side: Side,
        remoteAddress: HostPort,
        localAddress: HostPort,
        source: any ConnectionObservable
    ) {
        self.remoteID = remoteID
        self.alpn = alpn
        self.side = side
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.source = source
    }

    /// Snapshots of the connection's paths (one today; more once migration lands, RFC 9000 §9).
    public func paths() async -> [PathInfo] {
        await source.observedPaths()
    }

    /// Current connection-wide counters (RTT, congestion window, bytes and packets, RFC 9002).
    public func stats() async -> ConnectionStats {
        await source.observedStats() ?? ConnectionStats()
    }

    /// Path events from now on, buffered and bounded; the sequence ends when the connection closes.
    public func pathEvents() -> PathEvents {
        source.observedPathEvents()
    }

    /// A handle that can query the connection later without keeping it alive.
    public func weakHandle() -> WeakConnectionHandle {
        WeakConnectionHandle(
            remoteID: remoteID,
            alpn: alpn,
            side: side,
            remoteAddress: remoteAddress,
            source: source
        )
    }

    /// Waits until the connection has ended and returns why.
    public var closed: ConnectionCloseReason {
        get async { await source.observedClose() }
    }
}

/// A weak, read-only reference to a connection, for monitors that outlive a hook call.
///
/// Holds no strong reference, so it never keeps a connection (or its endpoint) alive and cannot form a cycle;
/// once the connection has been released every query answers nil or empty. The identity fields are copies.
public struct WeakConnectionHandle: Sendable {
    /// The peer's endpoint id.
    public let remoteID: EndpointID
    /// The negotiated application protocol.
    public let alpn: String
    /// Whether this endpoint dialed or accepted.
    public let side: Side
    /// The peer's address when the handshake completed.
    public let remoteAddress: HostPort

    private weak let source: (any ConnectionObservable)?

    init(remoteID: EndpointID, alpn: String, side: Side, remoteAddress: HostPort, source: (any ConnectionObservable)?) {
        self.remoteID = remoteID
        self.alpn = alpn
        self.side = side
        self.remoteAddress = remoteAddress
        self.source = source
    }

    /// Whether the connection object still exists (it may have closed while still referenced elsewhere).
    public var isAlive: Bool { source != nil }

    /// Current counters, or nil once the connection is gone.
    public func stats() async -> ConnectionStats? {
        guard let source else { return nil }
        return await source.observedStats()
    }

    /// Path snapshots, empty once the connection is gone.
    public func paths() async -> [PathInfo] {
        guard let source else { return [] }
        return await source.observedPaths()
    }

    /// Path events from now on; an already-ended sequence once the connection is gone.
    public func pathEvents() -> PathEvents {
        source?.observedPathEvents() ?? PathEvents(subscription: nil)
    }
}

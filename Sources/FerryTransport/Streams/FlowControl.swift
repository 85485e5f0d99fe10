/// Credit the peer granted us to send (RFC 9000 §4.1): MAX_DATA for the connection, MAX_STREAM_DATA per stream.
///
/// `used` counts the highest offset sent (stream) or the sum of those (connection). Retransmissions do not use
/// credit. `blockedReportedLimit` remembers the limit a DATA_BLOCKED / STREAM_DATA_BLOCKED frame was queued for,
/// so each limit is reported once (RFC 9000 §4.1, §19.12).
public struct SendCredit: Equatable, Sendable {
    /// The peer's current limit.
    public private(set) var limit: UInt64
    /// Credit consumed so far.
    public private(set) var used: UInt64 = 0
    /// The limit for which a *_BLOCKED frame was last queued.
    public var blockedReportedLimit: UInt64?

    public init(limit: UInt64) {
        self.limit = limit
    }

    /// Bytes that may still be sent.
    @inline(__always)
    public var available: UInt64 { limit &- used }

    /// Applies a new limit; limits never decrease (RFC 9000 §4.1). Returns true when the limit grew.
    @discardableResult
    public mutating func raise(to newLimit: UInt64) -> Bool {
        guard newLimit > limit else { return false }
        limit = newLimit
        return true
    }

    /// Consumes credit for newly sent bytes.
    @inline(__always)
    public mutating func consume(_ count: UInt64) {
        used &+= count
    }

    /// Whether a blocked frame should be queued now: no credit left and not yet reported for this limit.
    public mutating func shouldReportBlocked() -> Bool {
        guard available == 0, blockedReportedLimit != limit else { return false }
        blockedReportedLimit = limit
        return true
    }
}

/// A receive window we advertise to the peer (RFC 9000 §4.1–4.2): MAX_DATA or MAX_STREAM_DATA.
///
/// The window slides as the application consumes data: once the credit not yet consumed falls below half of
/// `windowSize`, `needsUpdate` turns true and `makeUpdate()` advertises `consumed + windowSize`. `windowSize`
/// is mutable and capped by `maximumWindowSize`: this is the auto-tuning hook (core may grow it, e.g. when
/// updates are needed more often than once per RTT, as quinn and Chromium do).
public struct ReceiveWindow: Equatable, Sendable {
    /// The limit advertised to the peer.
    public private(set) var limit: UInt64
    /// Bytes the peer has used (highest offset received, or the connection-wide sum).
    public private(set) var received: UInt64 = 0
    /// Bytes the application consumed (or that were released by a reset).
    public private(set) var consumed: UInt64 = 0
    /// The window kept open ahead of consumption.
    public var windowSize: UInt64
    /// The cap for auto-tuning `windowSize`.
    public var maximumWindowSize: UInt64

    public init(initialLimit: UInt64, maximumWindowSize: UInt64? = nil) {
        limit = initialLimit
        windowSize = initialLimit
        self.maximumWindowSize = max(maximumWindowSize ?? initialLimit, initialLimit)
    }

    /// Records that the peer's usage grew to `newReceived`. Returns false when that exceeds the advertised limit
    /// (FLOW_CONTROL_ERROR, RFC 9000 §4.1).
    @inline(__always)
    public mutating func recordReceived(upTo newReceived: UInt64) -> Bool {
        guard newReceived > received else { return true }
        guard newReceived <= limit else { return false }
        received = newReceived
        return true
    }

    /// Records `count` more bytes used by the peer (connection-level sum). Returns false on a violation.
    @inline(__always)
    public mutating func recordReceived(count: UInt64) -> Bool {
        recordReceived(upTo: received &+ count)
    }

    /// Records `count` bytes consumed by the application.
    @inline(__always)
    public mutating func recordConsumed(_ count: UInt64) {
        consumed &+= count
    }

    /// Whether the unconsumed part of the window fell below half of `windowSize`.
    @inline(__always)
    public var needsUpdate: Bool {
        limit &- consumed < windowSize / 2 && consumed &+ windowSize > limit
    }

    /// The limit to advertise now, recorded as advertised.
    public mutating func makeUpdate() -> UInt64 {
        let newLimit = min(consumed &+ windowSize, VarInt.maxValue)
        if newLimit > limit { limit = newLimit }
        return limit
    }

    /// Doubles the window up to `maximumWindowSize` (auto-tuning step).
    public mutating func growWindow() {
        windowSize = min(windowSize &* 2, maximumWindowSize)
    }
}

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

    /// When the last update was made by `makeUpdate(now:smoothedRTT:)`.
    public private(set) var lastUpdateTime: Instant?

    /// Makes an update like `makeUpdate()`, first auto-tuning the window to the bandwidth-delay product: when the
    /// previous update went out less than two round trips ago, the peer consumed half a window within two RTTs,
    /// so the window limits the transfer and doubles, up to `maximumWindowSize` (RFC 9000 §4.2; Chromium and
    /// msquic tune the same way).
    public mutating func makeUpdate(now: Instant, smoothedRTT: Duration) -> UInt64 {
        if let last = lastUpdateTime, now > last, now - last < smoothedRTT * 2, windowSize < maximumWindowSize {
            growWindow()
        }
        lastUpdateTime = now
        return makeUpdate()
    }
}

/// The time and smoothed RTT the connection hands the stream layer before it writes frames, so window updates
/// can be auto-tuned without the stream layer reading a clock (design.md: `now` is always a parameter).
public struct FlowControlClock: Sendable, Equatable {
    /// The current instant.
    public var now: Instant
    /// The connection's smoothed RTT (RFC 9002 §5.3).
    public var smoothedRTT: Duration

    /// Creates a clock reading.
    public init(now: Instant = .zero, smoothedRTT: Duration = .milliseconds(333)) {
        self.now = now
        self.smoothedRTT = smoothedRTT
    }
}

/// Receive-window updates with auto-tuning (RFC 9000 §4.2).
extension StreamManager {
    /// The MAX_DATA limit to advertise now, growing the connection window when updates come faster than every
    /// two RTTs.
    func makeConnectionWindowUpdate() -> UInt64 {
        connectionReceiveWindow.makeUpdate(now: flowControlClock.now, smoothedRTT: flowControlClock.smoothedRTT)
    }

    /// The MAX_STREAM_DATA limit to advertise for `stream`, growing its window when updates come faster than every
    /// two RTTs. A grown stream window pulls the connection window up to 1.5 times its size (as Chromium does),
    /// so one fast stream is not held back by the connection limit.
    func makeStreamWindowUpdate(_ stream: StreamRecord) -> UInt64 {
        let before = stream.receiveWindow.windowSize
        let limit = stream.receiveWindow.makeUpdate(
            now: flowControlClock.now, smoothedRTT: flowControlClock.smoothedRTT)
        let grown = stream.receiveWindow.windowSize
        if grown > before {
            let wanted = min(grown &+ grown / 2, connectionReceiveWindow.maximumWindowSize)
            if connectionReceiveWindow.windowSize < wanted {
                connectionReceiveWindow.windowSize = wanted
                if connectionReceiveWindow.needsUpdate { pendingMaxData = true }
            }
        }
        return limit
    }
}

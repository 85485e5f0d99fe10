/// The phase a congestion controller is in (RFC 9002 §7.3).
public enum CongestionState: Sendable, Hashable {
    /// The window grows by the bytes acknowledged (RFC 9002 §7.3.1).
    case slowStart
    /// A congestion event happened; the window does not shrink again for packets sent before it (RFC 9002 §7.3.2).
    case recovery
    /// The window grows slowly (RFC 9002 §7.3.3, RFC 9438 §4).
    case congestionAvoidance
}

/// A swappable congestion control algorithm (RFC 9002 §7; design.md: providers behind small protocols).
///
/// `LossDetection` owns one and drives it: it reports sends, acknowledgements, losses (with the persistent
/// congestion verdict of RFC 9002 §7.6), ECN-CE increases and discarded packet number spaces. The connection asks
/// `canSend(bytes:)` before sending ack-eliciting or padded packets (probes may exceed the window, RFC 9002 §7.5)
/// and reads `pacingRate` to feed the `Pacer`. Controllers are classes so a `LossDetection` value can hold
/// `any CongestionController` without copying state on each call.
public protocol CongestionController: AnyObject {
    /// The congestion window in bytes.
    var congestionWindow: Int { get }
    /// Bytes of in-flight packets sent and not yet acknowledged, lost or discarded (RFC 9002 §2).
    var bytesInFlight: Int { get }
    /// The slow start threshold in bytes; `Int.max` until the first congestion event.
    var slowStartThreshold: Int { get }
    /// The current phase.
    var state: CongestionState { get }
    /// The maximum datagram size the window is counted in; starts at 1200 and rises when PMTU discovery
    /// succeeds (RFC 9002 §7.2). Setting it rescales the minimum window.
    var maxDatagramSize: Int { get set }
    /// The pacing rate in bytes per second: about 1.25 × cwnd / smoothed_rtt (2 × in slow start)
    /// (RFC 9002 §7.7).
    var pacingRate: UInt64 { get }

    /// Whether a packet of `bytes` may be sent without exceeding the window (RFC 9002 §7).
    func canSend(bytes: Int) -> Bool
    /// An in-flight packet of `size` bytes was sent.
    func onPacketSent(size: Int, now: Instant)
    /// Packets were newly acknowledged (RFC 9002 §A.7 / §B.5); only in-flight ones count.
    func onPacketsAcknowledged(_ packets: [SentPacket], rtt: RTTEstimator, now: Instant)
    /// Packets were declared lost (RFC 9002 §B.8); `persistentCongestion` collapses the window to the minimum
    /// (RFC 9002 §7.6.2).
    func onPacketsLost(_ packets: [SentPacket], persistentCongestion: Bool, now: Instant)
    /// The peer reported more ECN-CE marks; `timeSent` is when the largest newly acknowledged packet left
    /// (RFC 9002 §B.7).
    func onECNCongestionEvent(timeSent: Instant, now: Instant)
    /// In-flight packets were discarded without acknowledgement or loss (key discard, RFC 9002 §6.4).
    func onPacketsDiscarded(bytes: Int)
}

extension CongestionController {
    /// The bytes that can be sent now without exceeding the window.
    public var availableWindow: Int { max(0, congestionWindow - bytesInFlight) }
}

/// Window constants shared by the controllers (RFC 9002 §7.2).
enum CongestionDefaults {
    /// kInitialWindow: min(10 × max_datagram_size, max(14720, 2 × max_datagram_size)).
    static func initialWindow(maxDatagramSize: Int) -> Int {
        min(10 * maxDatagramSize, max(14_720, 2 * maxDatagramSize))
    }

    /// kMinimumWindow: 2 × max_datagram_size.
    static func minimumWindow(maxDatagramSize: Int) -> Int { 2 * maxDatagramSize }

    /// Pacing rate in bytes per second from a window and the smoothed RTT (RFC 9002 §7.7).
    static func pacingRate(window: Int, smoothedRTT: UInt64, isSlowStart: Bool) -> UInt64 {
        let rtt = max(smoothedRTT, 1_000)  // at least 1 µs
        // rate = gain × window / rtt; gain 2 in slow start, 5/4 otherwise.
        let scaled = Double(window) * (isSlowStart ? 2.0 : 1.25) * 1e9 / Double(rtt)
        return scaled >= Double(UInt64.max) ? .max : UInt64(scaled)
    }
}

/// Tracks whether the sender used its window, so an application-limited sender does not grow cwnd
/// (RFC 9002 §7.8).
///
/// The window counts as used if the peak of bytes in flight during the current or the previous round trip reached
/// at least half of it (Linux's tcp_is_cwnd_limited uses the same bound in slow start); half rather than all so a
/// paced sender, whose in-flight bytes trail the window, still grows. A round ends when a packet sent after the
/// previous round ended is acknowledged.
struct WindowUsage: Sendable {
    private var peak = 0
    private var previousPeak = 0
    private var roundStart: Instant = .zero

    mutating func onSent(bytesInFlight: Int) {
        peak = max(peak, bytesInFlight)
    }

    func isWindowLimited(window: Int) -> Bool {
        max(peak, previousPeak) * 2 >= window
    }

    /// Call after an ACK with the send time of the newest packet it acknowledged.
    mutating func onAcknowledged(largestTimeSent: Instant, bytesInFlight: Int, now: Instant) {
        guard largestTimeSent >= roundStart else { return }
        previousPeak = peak
        peak = bytesInFlight
        roundStart = now
    }
}

/// The bookkeeping NewReno and CUBIC share (RFC 9002 §7, Appendix B): bytes in flight, the recovery period,
/// whether the window is in use, and the latest smoothed RTT for pacing. The controllers differ only in how the
/// window grows and shrinks.
struct CongestionBookkeeping: Sendable {
    /// Bytes of in-flight packets (RFC 9002 §2).
    var bytesInFlight = 0
    /// congestion_recovery_start_time (RFC 9002 §B.2); kept after recovery ends, so a later loss of a packet
    /// sent before it causes no second reduction.
    var recoveryStartTime: Instant?
    /// Whether no packet sent after the recovery period started has been acknowledged yet (RFC 9002 §7.3.2).
    var isRecovering = false
    var usage = WindowUsage()
    var smoothedRTT: UInt64 = RTTEstimator.defaultInitialRTT.nanosecondsClamped

    /// Whether a packet sent at `timeSent` belongs to the current recovery period (RFC 9002 §B.4).
    @inline(__always)
    func isInRecovery(timeSent: Instant) -> Bool {
        guard let start = recoveryStartTime else { return false }
        return timeSent <= start
    }

    /// Counts an in-flight packet (RFC 9002 §B.4 OnPacketSentCC).
    @inline(__always)
    mutating func onPacketSent(size: Int) {
        bytesInFlight += size
        usage.onSent(bytesInFlight: bytesInFlight)
    }

    /// Takes acknowledged in-flight packets out of flight and calls `grow` with the size of each one that may grow
    /// the window: sent after the recovery period started (which ends recovery, RFC 9002 §7.3.2) while the window
    /// was in use (RFC 9002 §7.8).
    @inline(__always)
    mutating func onPacketsAcknowledged(
        _ packets: [SentPacket], window: Int, rtt: RTTEstimator, now: Instant, grow: (Int) -> Void
    ) {
        smoothedRTT = rtt.smoothedNanoseconds
        let isLimited = usage.isWindowLimited(window: window)
        var largestTimeSent: Instant?
        for packet in packets where packet.isInFlight {
            bytesInFlight = max(0, bytesInFlight - packet.size)
            largestTimeSent = max(largestTimeSent ?? packet.timeSent, packet.timeSent)
            if isInRecovery(timeSent: packet.timeSent) { continue }
            isRecovering = false
            if isLimited { grow(packet.size) }
        }
        if let timeSent = largestTimeSent {
            usage.onAcknowledged(largestTimeSent: timeSent, bytesInFlight: bytesInFlight, now: now)
        }
    }

    /// Takes lost in-flight packets out of flight; returns the send time of the newest lost packet that signals
    /// congestion (PMTU probes do not, RFC 9000 §14.4), or nil.
    mutating func removeLost(_ packets: [SentPacket]) -> Instant? {
        var largestTimeSent: Instant?
        for packet in packets where packet.isInFlight {
            bytesInFlight = max(0, bytesInFlight - packet.size)
            if packet.isMTUProbe { continue }
            largestTimeSent = max(largestTimeSent ?? packet.timeSent, packet.timeSent)
        }
        return largestTimeSent
    }

    /// Starts a recovery period for a congestion signal about a packet sent at `timeSent`, unless it belongs to
    /// the current one (RFC 9002 §B.6); returns whether the window should be reduced.
    mutating func enterRecovery(timeSent: Instant, now: Instant) -> Bool {
        if isInRecovery(timeSent: timeSent) { return false }
        recoveryStartTime = now
        isRecovering = true
        return true
    }

    /// Persistent congestion (RFC 9002 §7.6.2): the next acknowledgement leaves recovery.
    mutating func onPersistentCongestion() {
        recoveryStartTime = nil
        isRecovering = false
    }

    /// Removes bytes of discarded packets from flight without a congestion signal (RFC 9002 §6.4).
    mutating func onPacketsDiscarded(bytes: Int) {
        bytesInFlight = max(0, bytesInFlight - bytes)
    }
}

/// The NewReno congestion controller of RFC 9002 §7 and Appendix B.
///
/// Slow start doubles the window each round trip, congestion avoidance adds one datagram per window acknowledged,
/// and a congestion event halves the window once per recovery period: losses of packets sent before the period
/// started do not reduce it again (RFC 9002 §7.3.2).
public final class NewReno: CongestionController {
    /// kLossReductionFactor (RFC 9002 §7.2).
    public static let lossReductionFactor = 0.5

    /// The congestion window in bytes (RFC 9002 §7).
    @exclusivity(unchecked) public private(set) var congestionWindow: Int
    /// ssthresh in bytes; `Int.max` until the first congestion event (RFC 9002 §7.3.1).
    @exclusivity(unchecked) public private(set) var slowStartThreshold: Int = .max
    @exclusivity(unchecked) private var bytesAckedInAvoidance = 0
    @exclusivity(unchecked) private var book = CongestionBookkeeping()

    /// Bytes in flight (RFC 9002 §2); see `CongestionController.bytesInFlight`.
    public var bytesInFlight: Int { book.bytesInFlight }
    /// When the current recovery period started, congestion_recovery_start_time (RFC 9002 §B.2).
    /// It is kept after recovery ends: a later loss of a packet sent before it still causes no reduction.
    public var recoveryStartTime: Instant? { book.recoveryStartTime }

    /// The datagram size windows are counted in (RFC 9002 §7.2); at least 1200, raised by PMTU discovery.
    public var maxDatagramSize: Int {
        didSet {
            maxDatagramSize = max(maxDatagramSize, 1200)
            congestionWindow = max(congestionWindow, minimumWindow)
        }
    }

    /// Creates a controller with the initial window for `maxDatagramSize` (RFC 9002 §7.2).
    public init(maxDatagramSize: Int = 1200) {
        self.maxDatagramSize = max(maxDatagramSize, 1200)
        congestionWindow = CongestionDefaults.initialWindow(maxDatagramSize: self.maxDatagramSize)
    }

    /// kMinimumWindow for the current datagram size.
    public var minimumWindow: Int { CongestionDefaults.minimumWindow(maxDatagramSize: maxDatagramSize) }

    /// Slow start, recovery or congestion avoidance (RFC 9002 §7.3).
    public var state: CongestionState {
        if book.isRecovering { return .recovery }
        return congestionWindow < slowStartThreshold ? .slowStart : .congestionAvoidance
    }

    /// Bytes per second for the `Pacer` (RFC 9002 §7.7).
    public var pacingRate: UInt64 {
        CongestionDefaults.pacingRate(
            window: congestionWindow, smoothedRTT: book.smoothedRTT, isSlowStart: state == .slowStart)
    }

    /// Whether `bytes` more fit in the window (RFC 9002 §7).
    public func canSend(bytes: Int) -> Bool { book.bytesInFlight + bytes <= congestionWindow }

    /// Counts an in-flight packet (RFC 9002 §B.4 OnPacketSentCC).
    public func onPacketSent(size: Int, now: Instant) {
        book.onPacketSent(size: size)
    }

    /// Grows the window for acknowledged in-flight packets outside recovery while the window is in use
    /// (RFC 9002 §B.5).
    public func onPacketsAcknowledged(_ packets: [SentPacket], rtt: RTTEstimator, now: Instant) {
        book.onPacketsAcknowledged(packets, window: congestionWindow, rtt: rtt, now: now) { size in
            if congestionWindow < slowStartThreshold {
                congestionWindow += size
            } else {
                // cwnd += max_datagram_size × acked / cwnd, accumulated to avoid rounding to zero (RFC 9002 §B.5).
                bytesAckedInAvoidance += size
                if bytesAckedInAvoidance >= congestionWindow {
                    bytesAckedInAvoidance -= congestionWindow
                    congestionWindow += maxDatagramSize
                }
            }
        }
    }

    /// Removes lost bytes, reacts once per recovery period, collapses on persistent congestion (RFC 9002 §B.8).
    public func onPacketsLost(_ packets: [SentPacket], persistentCongestion: Bool, now: Instant) {
        guard let timeSent = book.removeLost(packets) else { return }
        onCongestionEvent(timeSent: timeSent, now: now)
        if persistentCongestion {
            // RFC 9002 §7.6.2: collapse to the minimum window; the next ACK leaves recovery.
            congestionWindow = minimumWindow
            book.onPersistentCongestion()
            bytesAckedInAvoidance = 0
        }
    }

    /// An ECN-CE increase is a congestion event like a loss (RFC 9002 §B.7).
    public func onECNCongestionEvent(timeSent: Instant, now: Instant) {
        onCongestionEvent(timeSent: timeSent, now: now)
    }

    /// Removes bytes of discarded packets from flight without a congestion signal (RFC 9002 §6.4).
    public func onPacketsDiscarded(bytes: Int) {
        book.onPacketsDiscarded(bytes: bytes)
    }

    /// Enters recovery and halves the window, unless already recovering from a loss of this era (RFC 9002 §B.6).
    private func onCongestionEvent(timeSent: Instant, now: Instant) {
        guard book.enterRecovery(timeSent: timeSent, now: now) else { return }
        slowStartThreshold = Int(Double(congestionWindow) * Self.lossReductionFactor)
        congestionWindow = max(slowStartThreshold, minimumWindow)
        bytesAckedInAvoidance = 0
    }
}

/// The CUBIC congestion controller (RFC 9438), Ferry's default.
///
/// After a congestion event the window drops to β = 0.7 of its value and then follows the cubic
/// W_cubic(t) = C × (t − K)³ + W_max (C = 0.4, windows in datagrams, t in seconds, RFC 9438 §4.2): concave up to the
/// previous maximum, convex beyond it. A Reno-friendly estimate W_est (RFC 9438 §4.3) takes over where it would be
/// larger, and fast convergence (RFC 9438 §4.7) releases bandwidth to newer flows. Slow start, recovery periods and
/// persistent congestion follow RFC 9002 §7 exactly as `NewReno` does.
public final class Cubic: CongestionController {
    /// C, the cubic scaling constant (RFC 9438 §4.2).
    public static let scalingConstant = 0.4
    /// β_cubic, the multiplicative decrease factor (RFC 9438 §4.6).
    public static let multiplicativeDecrease = 0.7
    /// α_cubic = 3 (1 − β) / (1 + β): the Reno-friendly additive increase per window (RFC 9438 §4.3).
    public static let renoFriendlyIncrease = 3 * (1 - multiplicativeDecrease) / (1 + multiplicativeDecrease)

    @exclusivity(unchecked) private var window: Double
    /// ssthresh in bytes; `Int.max` until the first congestion event (RFC 9002 §7.3.1).
    @exclusivity(unchecked) public private(set) var slowStartThreshold: Int = .max
    @exclusivity(unchecked) private var book = CongestionBookkeeping()
    /// Bytes in flight (RFC 9002 §2); see `CongestionController.bytesInFlight`.
    public var bytesInFlight: Int { book.bytesInFlight }
    /// When the current recovery period started (RFC 9002 §B.2); kept after recovery ends.
    public var recoveryStartTime: Instant? { book.recoveryStartTime }
    /// W_max in bytes: the window before the last reduction, lowered by fast convergence (RFC 9438 §4.7).
    @exclusivity(unchecked) public private(set) var maximumWindow: Double = 0
    /// cwnd_prior in bytes: the window just before the last reduction (RFC 9438 §4.6).
    @exclusivity(unchecked) private var priorWindow: Double = 0
    /// W_est in bytes (RFC 9438 §4.3).
    @exclusivity(unchecked) private var renoEstimate: Double = 0
    /// K in seconds (RFC 9438 §4.2).
    @exclusivity(unchecked) public private(set) var timeToMaximum: Double = 0
    /// The start of the current congestion avoidance epoch, t = 0 of W_cubic (RFC 9438 §4.2).
    @exclusivity(unchecked) public private(set) var epochStart: Instant?
    @exclusivity(unchecked) private var lastAckTime: Instant?

    /// The datagram size windows are counted in (RFC 9002 §7.2); at least 1200, raised by PMTU discovery.
    public var maxDatagramSize: Int {
        didSet {
            maxDatagramSize = max(maxDatagramSize, 1200)
            window = max(window, Double(minimumWindow))
        }
    }

    /// Creates a controller with the initial window for `maxDatagramSize` (RFC 9002 §7.2).
    public init(maxDatagramSize: Int = 1200) {
        self.maxDatagramSize = max(maxDatagramSize, 1200)
        window = Double(CongestionDefaults.initialWindow(maxDatagramSize: self.maxDatagramSize))
    }

    /// The congestion window in bytes (RFC 9002 §7).
    public var congestionWindow: Int { Int(min(window, Self.windowCeiling)) }

    /// A bound far above any real window that keeps the Double → Int conversion from trapping.
    static let windowCeiling = Double(1 << 50)

    /// kMinimumWindow for the current datagram size (RFC 9002 §7.2).
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

    /// W_cubic(t) in bytes for `t` seconds into the epoch (RFC 9438 §4.2, Figure 1).
    public func cubicWindow(secondsIntoEpoch t: Double) -> Double {
        let offset = t - timeToMaximum
        return Self.scalingConstant * offset * offset * offset * Double(maxDatagramSize) + maximumWindow
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
        if !book.usage.isWindowLimited(window: congestionWindow), let epoch = epochStart, let last = lastAckTime {
            // Application-limited: do not let idle time count toward cubic growth (RFC 9438 §5.8).
            epochStart = epoch.advanced(byNanoseconds: now.nanoseconds(since: last))
        }
        lastAckTime = now
        book.onPacketsAcknowledged(packets, window: congestionWindow, rtt: rtt, now: now) { size in
            if congestionWindow < slowStartThreshold {
                window += Double(size)
            } else {
                growInAvoidance(ackedBytes: Double(size), smoothedRTT: rtt.smoothedNanoseconds, now: now)
            }
        }
    }

    /// Congestion avoidance growth for one acknowledged packet (RFC 9438 §4.2–4.5).
    private func growInAvoidance(ackedBytes: Double, smoothedRTT: UInt64, now: Instant) {
        let segment = Double(maxDatagramSize)
        if epochStart == nil {
            epochStart = now
            if maximumWindow <= window {
                // Leaving slow start (or already above W_max): start convex growth from here (RFC 9438 §4.10).
                maximumWindow = window
                timeToMaximum = 0
                priorWindow = window
            } else {
                timeToMaximum = cubeRoot((maximumWindow - window) / segment / Self.scalingConstant)
            }
            renoEstimate = window
        }
        let elapsed = Double(now.nanoseconds(since: epochStart ?? now)) / 1e9
        let rtt = Double(smoothedRTT) / 1e9
        // Reno-friendly estimate; α becomes 1 once W_est passes cwnd_prior (RFC 9438 §4.3).
        let alpha = renoEstimate >= priorWindow ? 1.0 : Self.renoFriendlyIncrease
        renoEstimate += alpha * segment * ackedBytes / window
        let cubicNow = cubicWindow(secondsIntoEpoch: elapsed)
        if cubicNow < renoEstimate {
            window = renoEstimate
            return
        }
        // Concave or convex region: approach W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd] (RFC 9438 §4.4–4.5).
        let target = min(max(cubicWindow(secondsIntoEpoch: elapsed + rtt), window), 1.5 * window)
        window += (target - window) * ackedBytes / window
    }

    /// Removes lost bytes, reacts once per recovery period, collapses on persistent congestion (RFC 9002 §B.8).
    public func onPacketsLost(_ packets: [SentPacket], persistentCongestion: Bool, now: Instant) {
        guard let timeSent = book.removeLost(packets) else { return }
        onCongestionEvent(timeSent: timeSent, now: now)
        if persistentCongestion {
            // RFC 9002 §7.6.2 and RFC 9438 §4.8: back to the minimum window and a fresh epoch.
            window = Double(minimumWindow)
            book.onPersistentCongestion()
            epochStart = nil
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

    /// Multiplicative decrease with fast convergence, once per recovery period (RFC 9438 §4.6–4.7).
    private func onCongestionEvent(timeSent: Instant, now: Instant) {
        guard book.enterRecovery(timeSent: timeSent, now: now) else { return }
        priorWindow = window
        if window < maximumWindow {
            maximumWindow = window * (1 + Self.multiplicativeDecrease) / 2
        } else {
            maximumWindow = window
        }
        let reduced = max(window * Self.multiplicativeDecrease, Double(minimumWindow))
        slowStartThreshold = Int(reduced)
        window = reduced
        epochStart = nil
    }
}

/// The real cube root of a non-negative `x` by Newton's method (FerryTransport avoids a Foundation dependency).
func cubeRoot(_ x: Double) -> Double {
    guard x > 0, x.isFinite else { return x.isFinite ? 0 : x }
    var y = Double(sign: .plus, exponent: x.exponent / 3, significand: 1.5)
    for _ in 0..<32 {
        let next = y - (y * y * y - x) / (3 * y * y)
        if abs(next - y) <= 1e-12 * next { return next }
        y = next
    }
    return y
}

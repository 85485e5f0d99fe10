/// Round-trip time estimation (RFC 9002 §5).
///
/// Loss detection, probe timeouts, persistent congestion and pacing all derive from these four values, so they live
/// in one clock-free value type: the caller measures `latestRTT` from its own `Instant`s and feeds samples in.
/// Internally everything is kept in nanoseconds to keep the per-ACK arithmetic cheap.
public struct RTTEstimator: Sendable, Equatable {
    /// The RTT assumed before the first sample (RFC 9002 §6.2.2: 333 ms).
    public static let defaultInitialRTT: Duration = .milliseconds(333)
    /// The system timer granularity, kGranularity (RFC 9002 §6.1.2: 1 ms).
    public static let granularity: Duration = .milliseconds(1)

    static let granularityNanoseconds: UInt64 = 1_000_000

    private(set) var latestNanoseconds: UInt64
    private(set) var minNanoseconds: UInt64
    private(set) var smoothedNanoseconds: UInt64
    private(set) var varianceNanoseconds: UInt64

    /// Whether at least one RTT sample was taken; before that the values derive from the initial RTT.
    public private(set) var hasSample: Bool = false

    /// Creates an estimator seeded with `initialRTT` (RFC 9002 §5.3: smoothed_rtt = initial, rttvar = initial / 2).
    public init(initialRTT: Duration = RTTEstimator.defaultInitialRTT) {
        let initial = initialRTT.nanosecondsClamped
        latestNanoseconds = initial
        minNanoseconds = initial
        smoothedNanoseconds = initial
        varianceNanoseconds = initial / 2
    }

    /// The most recent RTT sample, latest_rtt (RFC 9002 §5.1).
    public var latestRTT: Duration { .nanoseconds(latestNanoseconds) }
    /// The minimum RTT seen, min_rtt, never adjusted for ack delay (RFC 9002 §5.2).
    public var minRTT: Duration { .nanoseconds(minNanoseconds) }
    /// The exponentially weighted moving average, smoothed_rtt (RFC 9002 §5.3).
    public var smoothedRTT: Duration { .nanoseconds(smoothedNanoseconds) }
    /// The RTT variation, rttvar (RFC 9002 §5.3).
    public var rttVariance: Duration { .nanoseconds(varianceNanoseconds) }

    /// The probe timeout before backoff and without max_ack_delay: smoothed_rtt + max(4 * rttvar, kGranularity)
    /// (RFC 9002 §6.2.1).
    public var probeTimeoutBase: Duration { .nanoseconds(probeTimeoutBaseNanoseconds) }

    var probeTimeoutBaseNanoseconds: UInt64 {
        let variance = varianceNanoseconds.multipliedReportingOverflow(by: 4)
        let term = variance.overflow ? UInt64.max : max(variance.partialValue, Self.granularityNanoseconds)
        let sum = smoothedNanoseconds.addingReportingOverflow(term)
        return sum.overflow ? .max : sum.partialValue
    }

    /// The time-threshold loss delay: max(9/8 * max(smoothed_rtt, latest_rtt), kGranularity) (RFC 9002 §6.1.2).
    var lossDelayNanoseconds: UInt64 {
        let base = max(latestNanoseconds, smoothedNanoseconds)
        return max(base / 8 * 9 + (base % 8) * 9 / 8, Self.granularityNanoseconds)
    }

    /// Takes an RTT sample (RFC 9002 §5.3).
    ///
    /// - Parameters:
    ///   - latestRTT: time from sending the largest newly acknowledged packet to receiving its ACK.
    ///   - ackDelay: the peer's reported ACK delay, already scaled by its ack_delay_exponent. Pass zero for the
    ///     Initial and Handshake spaces, whose ACKs are not delayed.
    ///   - maxAckDelay: the peer's max_ack_delay transport parameter.
    ///   - isHandshakeConfirmed: before confirmation the peer may not yet apply max_ack_delay, so the reported
    ///     delay is not capped by it (RFC 9002 §5.3); afterwards it is.
    public mutating func update(
        latestRTT: Duration, ackDelay: Duration, maxAckDelay: Duration, isHandshakeConfirmed: Bool
    ) {
        update(
            latestNanoseconds: latestRTT.nanosecondsClamped, ackDelayNanoseconds: ackDelay.nanosecondsClamped,
            maxAckDelayNanoseconds: maxAckDelay.nanosecondsClamped, isHandshakeConfirmed: isHandshakeConfirmed)
    }

    /// `update(latestRTT:ackDelay:maxAckDelay:isHandshakeConfirmed:)` in nanoseconds, for the per-ACK path.
    mutating func update(
        latestNanoseconds latest: UInt64, ackDelayNanoseconds: UInt64, maxAckDelayNanoseconds: UInt64,
        isHandshakeConfirmed: Bool
    ) {
        latestNanoseconds = latest
        guard hasSample else {
            hasSample = true
            minNanoseconds = latest
            smoothedNanoseconds = latest
            varianceNanoseconds = latest / 2
            return
        }
        minNanoseconds = min(minNanoseconds, latest)
        var delay = ackDelayNanoseconds
        if isHandshakeConfirmed {
            delay = min(delay, maxAckDelayNanoseconds)
        }
        // Subtract the ack delay only if the result would not fall below min_rtt (RFC 9002 §5.3).
        var adjusted = latest
        if latest >= minNanoseconds, latest - minNanoseconds >= delay {
            adjusted = latest - delay
        }
        let difference = smoothedNanoseconds > adjusted
            ? smoothedNanoseconds - adjusted : adjusted - smoothedNanoseconds
        varianceNanoseconds = varianceNanoseconds / 4 * 3 + (varianceNanoseconds % 4) * 3 / 4 + difference / 4
        smoothedNanoseconds = smoothedNanoseconds / 8 * 7 + (smoothedNanoseconds % 8) * 7 / 8 + adjusted / 8
    }
}

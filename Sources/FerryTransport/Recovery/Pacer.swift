/// Spreads packets over the round trip instead of sending a window in one burst (RFC 9002 §7.7).
///
/// A token bucket over virtual time: tokens (bytes) refill at `rate` up to `burstSize`, so an idle sender may burst
/// about ten datagrams, after which sends are spaced at the rate. The connection sets `rate` from the congestion
/// controller's `pacingRate` (see `update(congestionController:)`), asks `nextSendTime` before building a packet
/// and reports the send with `onPacketSent`. Clock-free: `now` is always a parameter.
public struct Pacer: Sendable {
    /// Datagrams allowed in one burst by default (RFC 9002 §7.7 suggests a small initial burst, 10 packets).
    public static let defaultBurstPackets = 10

    /// The refill rate in bytes per second; 0 disables pacing.
    public var rate: UInt64
    /// The bucket capacity in bytes.
    public var burstSize: Int
    private var tokens: Int
    private var lastRefill: Instant?

    /// Creates a pacer allowing an initial burst of `burstPackets` datagrams of `maxDatagramSize` bytes.
    public init(rate: UInt64 = 0, maxDatagramSize: Int = 1200, burstPackets: Int = Pacer.defaultBurstPackets) {
        self.rate = rate
        burstSize = max(1, burstPackets) * max(1, maxDatagramSize)
        tokens = burstSize
    }

    /// Sets the rate from a congestion controller and sizes the burst to `burstPackets` datagrams, never more
    /// than the congestion window.
    public mutating func update(
        congestionController: any CongestionController, burstPackets: Int = Pacer.defaultBurstPackets
    ) {
        rate = congestionController.pacingRate
        let packets = max(2, burstPackets) * congestionController.maxDatagramSize
        burstSize = max(congestionController.maxDatagramSize, min(packets, congestionController.congestionWindow))
        tokens = min(tokens, burstSize)
    }

    /// Bytes that may be sent right now.
    public func availableTokens(now: Instant) -> Int {
        guard let last = lastRefill else { return tokens }
        return min(burstSize, tokens + refill(nanoseconds: now.nanoseconds(since: last)))
    }

    private func refill(nanoseconds: UInt64) -> Int {
        guard rate > 0 else { return burstSize }
        let (product, overflow) = nanoseconds.multipliedReportingOverflow(by: rate)
        if overflow { return burstSize }
        return Int(clamping: product / 1_000_000_000)
    }

    /// When a packet of `packetSize` bytes may be sent: nil means now, otherwise the instant the bucket will hold
    /// enough tokens. The connection arms a timer for it.
    public func nextSendTime(now: Instant, packetSize: Int) -> Instant? {
        guard rate > 0 else { return nil }
        let available = availableTokens(now: now)
        let needed = min(packetSize, burstSize)
        if available >= needed { return nil }
        let missing = UInt64(needed - available)
        // Round up so the bucket really holds `needed` tokens at the returned instant.
        let nanoseconds = (missing * 1_000_000_000 + rate - 1) / rate
        return now.advanced(byNanoseconds: nanoseconds)
    }

    /// Takes `size` tokens for a packet sent at `now`.
    public mutating func onPacketSent(size: Int, now: Instant) {
        tokens = availableTokens(now: now)
        lastRefill = now
        tokens = max(0, tokens - size)
    }
}

/// A token bucket in bytes: `rate` bytes per second sustained, `burst` bytes at once.
///
/// Each client has one, charged with every packet it asks the relay to forward; a packet that finds the bucket
/// short is dropped and counted (`rate_limited`), so one flooding client cannot take the relay's bandwidth from
/// the others. Time is a parameter (seconds on any monotonic clock), which keeps the limiter testable.
struct RelayRateLimiter: Sendable {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var last: Double?

    init(bytesPerSecond: Int, burstBytes: Int) {
        rate = Double(bytesPerSecond)
        burst = Double(max(burstBytes, 1))
        tokens = burst
    }

    /// Takes `bytes` tokens at time `now` (seconds); false, taking nothing, when there are not enough.
    mutating func allow(_ bytes: Int, now: Double) -> Bool {
        if let last, now > last { tokens = min(burst, tokens + (now - last) * rate) }
        last = now
        guard tokens >= Double(bytes) else { return false }
        tokens -= Double(bytes)
        return true
    }
}

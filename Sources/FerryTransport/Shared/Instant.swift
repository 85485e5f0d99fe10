/// A point in time on the caller's monotonic clock, in nanoseconds from an arbitrary origin.
///
/// The transport core never reads a clock (design.md): every entry point takes `now: Instant`. The runtime maps
/// its monotonic clock onto this type and simulated networks advance a virtual one, which makes tests
/// deterministic.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The clock's origin.
    public static let zero = Instant(nanoseconds: 0)

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// The instant `duration` later, saturating instead of overflowing.
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        let delta = rhs.nanosecondsClamped
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(delta)
        return Instant(nanoseconds: overflow ? .max : sum)
    }

    /// The instant `duration` earlier, saturating at the origin.
    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        let delta = rhs.nanosecondsClamped
        return Instant(nanoseconds: lhs.nanoseconds >= delta ? lhs.nanoseconds - delta : 0)
    }

    /// The time from `rhs` to `lhs`, or zero if `rhs` is later.
    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        guard lhs.nanoseconds > rhs.nanoseconds else { return .zero }
        return .nanoseconds(Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `0...UInt64.max`.
    public var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (secondsPart, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (sum, overflow2) = secondsPart.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return overflow2 ? .max : sum
    }

    /// Builds a duration from nanoseconds held in a `UInt64`.
    public static func nanoseconds(_ value: UInt64) -> Duration {
        .nanoseconds(Int64(clamping: value))
    }
}

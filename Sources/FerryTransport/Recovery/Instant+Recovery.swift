/// Nanosecond arithmetic on `Instant` for recovery's hot paths.
///
/// `Duration` arithmetic goes through 128-bit integers and showed up at the top of ACK-processing profiles, so
/// per-packet computations stay in saturating `UInt64` nanoseconds and convert to `Duration` only at API edges.
extension Instant {
    /// The instant `nanoseconds` later, saturating at the end of time.
    @inline(__always)
    func advanced(byNanoseconds delta: UInt64) -> Instant {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(delta)
        return Instant(nanoseconds: overflow ? .max : sum)
    }

    /// Nanoseconds from `earlier` to `self`, or zero if `earlier` is later.
    @inline(__always)
    func nanoseconds(since earlier: Instant) -> UInt64 {
        nanoseconds > earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0
    }
}

/// Saturating multiplication for backed-off timer periods.
@inline(__always)
func saturatingMultiply(_ value: UInt64, _ factor: UInt64) -> UInt64 {
    let (product, overflow) = value.multipliedReportingOverflow(by: factor)
    return overflow ? .max : product
}

/// Saturating addition of nanosecond spans.
@inline(__always)
func saturatingAdd(_ lhs: UInt64, _ rhs: UInt64) -> UInt64 {
    let (sum, overflow) = lhs.addingReportingOverflow(rhs)
    return overflow ? .max : sum
}

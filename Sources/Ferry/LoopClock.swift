import FerryTransport
import NIOCore

/// Maps NIO's monotonic clock onto the transport's `Instant`.
///
/// The sans-IO core never reads a clock (design.md); the runtime passes `now` on every call. Both sides use
/// `NIODeadline`'s uptime nanoseconds, so timer deadlines convert back without drift.
enum LoopClock {
    /// The current monotonic time.
    @inline(__always)
    static func now() -> Instant {
        Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds)
    }

    /// The NIO deadline for a transport instant.
    @inline(__always)
    static func deadline(_ instant: Instant) -> NIODeadline {
        NIODeadline.uptimeNanoseconds(instant.nanoseconds)
    }
}

extension Duration {
    /// The duration as a NIO `TimeAmount`.
    var timeAmount: TimeAmount {
        .nanoseconds(Int64(clamping: nanosecondsClamped))
    }
}

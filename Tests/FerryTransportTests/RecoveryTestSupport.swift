import FerryTransport

/// Virtual-clock helpers shared by the recovery tests.
func ms(_ milliseconds: Double) -> Instant {
    Instant(nanoseconds: UInt64(milliseconds * 1_000_000))
}

func millis(_ duration: Duration) -> Double {
    Double(duration.nanosecondsClamped) / 1_000_000
}

func sentPacket(
    _ packetNumber: UInt64, at time: Instant, size: Int = 1200, ackEliciting: Bool = true
) -> SentPacket {
    SentPacket(
        packetNumber: packetNumber, timeSent: time, size: size, isAckEliciting: ackEliciting,
        frames: ackEliciting ? [.ping] : [])
}

func ackFrame(_ ranges: ClosedRange<UInt64>..., ackDelay: UInt64 = 0, ecn: ECNCounts? = nil) -> AckFrame {
    AckFrame(largestAcknowledged: ranges[0].upperBound, ackDelay: ackDelay, ranges: ranges, ecnCounts: ecn)
}

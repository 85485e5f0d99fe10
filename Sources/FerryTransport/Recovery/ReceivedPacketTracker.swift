/// What one packet number space has received and when it owes the peer an ACK (RFC 9000 §13.2).
///
/// The connection keeps one tracker per packet number space. It records received packet numbers as ascending
/// ranges (cheap for the common in-order case: the last range grows), answers duplicate checks before a packet is
/// processed (RFC 9000 §12.3), decides when an ACK is due (RFC 9000 §13.2.1–13.2.2) and builds the ACK frame.
/// Memory is bounded: at most `maxStoredRanges` ranges are kept, and ranges the peer has seen acknowledged are
/// pruned (RFC 9000 §13.2.4). Packets below the pruned floor count as duplicates, which RFC 9000 §13.2.3 permits.
public struct ReceivedPacketTracker: Sendable {
    /// How many ack-eliciting packets may arrive before an ACK is sent at once (RFC 9000 §13.2.2).
    public static let ackElicitingThreshold = 2

    /// The space this tracker serves. Initial and Handshake packets are acknowledged immediately (RFC 9000 §13.2.1).
    public let space: PacketNumberSpace
    /// The most ranges an ACK frame carries; older ranges are left out (RFC 9000 §13.2.3).
    public var maxAckRanges: Int
    /// The most ranges kept in memory; beyond this the oldest are forgotten and treated as duplicates.
    public var maxStoredRanges: Int
    /// Our max_ack_delay: how long an ack-eliciting packet may wait for its ACK (RFC 9000 §13.2.1, §18.2).
    public var maxAckDelay: Duration {
        didSet { maxAckDelayNanoseconds = maxAckDelay.nanosecondsClamped }
    }
    private var maxAckDelayNanoseconds: UInt64

    /// Received packet numbers, ascending and non-adjacent (gaps of at least one between ranges).
    private var ranges: [ClosedRange<UInt64>] = []
    /// The ranges of the last ACK frame built, kept to reuse its storage.
    private var ackRangeScratch: [ClosedRange<UInt64>] = []
    /// Packet numbers below this are treated as already received (pruned or forgotten).
    public private(set) var floor: UInt64 = 0
    /// The largest packet number received and when; ack delay is measured from it (RFC 9000 §13.2.5).
    public private(set) var largestReceived: UInt64?
    private var largestReceivedTime: Instant = .zero
    /// The largest ack-eliciting packet number received, for the reordering rule of RFC 9000 §13.2.1.
    private var largestAckElicitingReceived: UInt64?

    /// Ack-eliciting packets received since the last ACK was sent.
    public private(set) var ackElicitingSinceLastAck: Int = 0
    /// Whether any packet (ack-eliciting or not) arrived since the last ACK, so a piggybacked ACK has news.
    public private(set) var hasUnacknowledgedPackets = false
    private var firstUnacknowledgedAckElicitingTime: Instant?
    private var isImmediateAckRequired = false

    /// ECN counts of received packets (RFC 9000 §13.4.1), echoed in ACK frames once any is non-zero.
    public private(set) var ecnCounts = ECNCounts(ect0: 0, ect1: 0, ce: 0)
    private var hasECNCounts = false

    /// Creates an empty tracker.
    ///
    /// - Parameters:
    ///   - space: the packet number space.
    ///   - maxAckDelay: our advertised max_ack_delay (25 ms by default, RFC 9000 §18.2).
    ///   - maxAckRanges: the most ACK ranges one frame carries (quinn and ngtcp2 use a few dozen).
    ///   - maxStoredRanges: the memory bound on remembered ranges.
    public init(
        space: PacketNumberSpace, maxAckDelay: Duration = .milliseconds(25), maxAckRanges: Int = 32,
        maxStoredRanges: Int = 256
    ) {
        self.space = space
        self.maxAckDelay = maxAckDelay
        maxAckDelayNanoseconds = maxAckDelay.nanosecondsClamped
        self.maxAckRanges = max(1, maxAckRanges)
        self.maxStoredRanges = max(1, maxStoredRanges)
        ranges.reserveCapacity(8)
    }

    /// The number of disjoint ranges currently remembered.
    public var rangeCount: Int { ranges.count }

    /// Whether `packetNumber` was already received, or lies below the pruned floor (RFC 9000 §12.3, §13.2.3).
    ///
    /// Call this after header protection removal and before decryption side effects; duplicates are dropped.
    @inline(__always)
    public func isDuplicate(_ packetNumber: UInt64) -> Bool {
        packetNumber < floor || contains(packetNumber)
    }

    /// Whether `packetNumber` is inside a remembered range.
    public func contains(_ packetNumber: UInt64) -> Bool {
        guard let last = ranges.last else { return false }
        if packetNumber > last.upperBound { return false }
        if packetNumber >= last.lowerBound { return true }
        let index = firstRangeIndex(endingAtOrAbove: packetNumber)
        return index < ranges.count && ranges[index].contains(packetNumber)
    }

    /// The index of the first range whose upper bound is ≥ `packetNumber`.
    private func firstRangeIndex(endingAtOrAbove packetNumber: UInt64) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < packetNumber { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Records a successfully processed packet (RFC 9000 §13.2).
    ///
    /// Call after the packet was authenticated and not a duplicate. Updates the ACK schedule: Initial and
    /// Handshake ack-eliciting packets, every second ack-eliciting packet, reordered packets, packets that open a
    /// gap, and CE-marked packets make an ACK due immediately; otherwise an ack-eliciting packet makes one due
    /// within max_ack_delay (RFC 9000 §13.2.1–13.2.2, §13.4.1).
    ///
    /// - Parameter ecn: the IP ECN codepoint the packet arrived with (0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE).
    public mutating func onPacketReceived(packetNumber: UInt64, isAckEliciting: Bool, ecn: UInt8 = 0, now: Instant) {
        guard packetNumber >= floor else { return }
        insert(packetNumber)
        hasUnacknowledgedPackets = true
        if largestReceived.map({ packetNumber > $0 }) ?? true {
            largestReceived = packetNumber
            largestReceivedTime = now
        }
        switch ecn & 0x3 {
        case 1: ecnCounts.ect1 &+= 1; hasECNCounts = true
        case 2: ecnCounts.ect0 &+= 1; hasECNCounts = true
        case 3:
            ecnCounts.ce &+= 1
            hasECNCounts = true
            if isAckEliciting { isImmediateAckRequired = true }
        default: break
        }
        guard isAckEliciting else { return }
        if let largest = largestAckElicitingReceived {
            if packetNumber < largest {
                // Out of order: the peer may be retransmitting; tell it quickly (RFC 9000 §13.2.1).
                isImmediateAckRequired = true
            } else if packetNumber > largest + 1, hasGap(below: packetNumber, above: largest) {
                isImmediateAckRequired = true
            }
        }
        largestAckElicitingReceived = max(largestAckElicitingReceived ?? 0, packetNumber)
        ackElicitingSinceLastAck += 1
        if firstUnacknowledgedAckElicitingTime == nil { firstUnacknowledgedAckElicitingTime = now }
        if space != .application || ackElicitingSinceLastAck >= Self.ackElicitingThreshold {
            isImmediateAckRequired = true
        }
    }

    /// Whether some packet number in `(above, below)` is missing.
    private func hasGap(below: UInt64, above: UInt64) -> Bool {
        // The packet `below` was just inserted; the range holding it must also hold `above` for no gap.
        let index = firstRangeIndex(endingAtOrAbove: below)
        guard index < ranges.count else { return true }
        return !ranges[index].contains(above)
    }

    private mutating func insert(_ packetNumber: UInt64) {
        // Fast path: in order, extending or following the last range.
        if let last = ranges.last {
            if packetNumber == last.upperBound &+ 1 {
                ranges[ranges.count - 1] = last.lowerBound...packetNumber
                return
            }
            if packetNumber > last.upperBound {
                appendRange(packetNumber...packetNumber)
                return
            }
        } else {
            appendRange(packetNumber...packetNumber)
            return
        }
        let index = firstRangeIndex(endingAtOrAbove: packetNumber)
        // index < count here because packetNumber ≤ last.upperBound.
        let range = ranges[index]
        if range.contains(packetNumber) { return }
        // packetNumber < range.lowerBound.
        let joinsNext = packetNumber + 1 == range.lowerBound
        let joinsPrevious = index > 0 && ranges[index - 1].upperBound + 1 == packetNumber
        switch (joinsPrevious, joinsNext) {
        case (true, true):
            ranges[index - 1] = ranges[index - 1].lowerBound...range.upperBound
            ranges.remove(at: index)
        case (true, false):
            ranges[index - 1] = ranges[index - 1].lowerBound...packetNumber
        case (false, true):
            ranges[index] = packetNumber...range.upperBound
        case (false, false):
            ranges.insert(packetNumber...packetNumber, at: index)
            enforceRangeLimit()
        }
    }

    private mutating func appendRange(_ range: ClosedRange<UInt64>) {
        ranges.append(range)
        enforceRangeLimit()
    }

    private mutating func enforceRangeLimit() {
        let excess = ranges.count - maxStoredRanges
        guard excess > 0 else { return }
        floor = ranges[excess - 1].upperBound + 1
        ranges.removeFirst(excess)
    }

    /// When an ACK must be sent, or nil if none is owed (RFC 9000 §13.2.1).
    ///
    /// An immediate ACK is due at the arrival time of the packet that triggered it (the past, so "now"); otherwise
    /// max_ack_delay after the first unacknowledged ack-eliciting packet. Non-ack-eliciting packets never make an
    /// ACK due on their own (RFC 9000 §13.2.1), though `hasUnacknowledgedPackets` lets them ride along.
    public var ackDeadline: Instant? {
        guard let first = firstUnacknowledgedAckElicitingTime else { return nil }
        return isImmediateAckRequired ? first : first.advanced(byNanoseconds: maxAckDelayNanoseconds)
    }

    /// Whether an ACK is due at `now`.
    public func isAckDue(now: Instant) -> Bool {
        guard let deadline = ackDeadline else { return false }
        return deadline <= now
    }

    /// Builds an ACK frame for everything remembered, newest ranges first, at most `maxAckRanges` ranges
    /// (RFC 9000 §19.3), or nil if nothing was received.
    ///
    /// - Parameters:
    ///   - now: the time the frame is being built; the ACK Delay is measured from the largest packet's arrival.
    ///   - ackDelayExponent: our ack_delay_exponent; the delay field holds microseconds >> exponent
    ///     (RFC 9000 §18.2). Initial and Handshake spaces report a delay of zero since their ACKs are immediate.
    ///
    /// Mutating only to reuse a scratch buffer: once the caller has encoded and dropped the previous frame, building
    /// the next one allocates nothing.
    public mutating func makeAckFrame(now: Instant, ackDelayExponent: UInt8 = 3) -> AckFrame? {
        guard let largest = ranges.last?.upperBound else { return nil }
        var frameRanges = ackRangeScratch
        ackRangeScratch = []
        frameRanges.removeAll(keepingCapacity: true)
        var index = ranges.count - 1
        while index >= 0, frameRanges.count < maxAckRanges {
            frameRanges.append(ranges[index])
            index -= 1
        }
        ackRangeScratch = frameRanges
        var ackDelay: UInt64 = 0
        if space == .application, largestReceived == largest {
            let microseconds = now.nanoseconds(since: largestReceivedTime) / 1000
            ackDelay = microseconds >> UInt64(min(ackDelayExponent, 20))
        }
        return AckFrame(
            largestAcknowledged: largest, ackDelay: ackDelay, ranges: frameRanges,
            ecnCounts: hasECNCounts ? ecnCounts : nil
        )
    }

    /// Notes that an ACK frame was sent: the ACK schedule restarts (RFC 9000 §13.2.1).
    ///
    /// The connection records `SentFrame.ack(largestAcknowledged:)` in the packet, and calls `onAckOfAck` when
    /// that packet is acknowledged.
    public mutating func onAckSent() {
        ackElicitingSinceLastAck = 0
        firstUnacknowledgedAckElicitingTime = nil
        isImmediateAckRequired = false
        hasUnacknowledgedPackets = false
    }

    /// Stops acknowledging packets at or below `largestAcknowledged` once the peer has received an ACK frame
    /// covering them (RFC 9000 §13.2.4). Later arrivals at or below it are treated as duplicates.
    public mutating func onAckOfAck(largestAcknowledged: UInt64) {
        guard largestAcknowledged >= floor, largestAcknowledged < UInt64.max else { return }
        let newFloor = largestAcknowledged + 1
        var dropCount = 0
        while dropCount < ranges.count, ranges[dropCount].upperBound < newFloor { dropCount += 1 }
        ranges.removeFirst(dropCount)
        if let first = ranges.first, first.lowerBound < newFloor {
            ranges[0] = newFloor...first.upperBound
        }
        floor = newFloor
    }
}

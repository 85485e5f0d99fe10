/// Where ECN stands on a path (RFC 9000 §13.4.2).
public enum ECNState: Sendable, Hashable {
    /// Packets are marked ECT(0) and no ACK has confirmed the counts yet (RFC 9000 §13.4.2.1).
    case testing
    /// The peer's ACK_ECN counts matched what was sent: marking continues and CE marks are congestion signals.
    case capable
    /// Validation failed (bleaching, missing or inconsistent counts, or every marked packet lost) or ECN is
    /// disabled: packets are sent Not-ECT (RFC 9000 §13.4.2.2).
    case failed
}

/// ECN marking and validation for one path (RFC 9000 §13.4, RFC 9002 §B.7).
///
/// Every packet is marked ECT(0) until validation fails. An ACK frame that newly acknowledges marked packets must
/// carry ECN counts whose ECT(0) + CE increase covers them, which catches networks and peers that clear or ignore
/// the codepoint (RFC 9000 §13.4.2.1); the test also fails if every one of the first `testingPacketCount` marked
/// packets is lost, in case marked packets are dropped. Only ACKs that raise the largest acknowledged packet number
/// are checked, so reordered ACKs with older counts are ignored. A valid CE increase is a congestion event.
///
/// Clock-free and allocation-free: `LossDetection` reports sends, acknowledgements and losses.
public struct ECNValidator: Sendable {
    /// Marked packets that may all be lost before ECN is presumed to cause the loss (RFC 9000 §13.4.2.1 suggests
    /// ten).
    public static let testingPacketCount: UInt64 = 10

    /// The current state.
    public private(set) var state: ECNState
    /// Marked packets sent, acknowledged and declared lost since validation started.
    public private(set) var markedSent: UInt64 = 0
    public private(set) var markedAcknowledged: UInt64 = 0
    public private(set) var markedLost: UInt64 = 0
    /// CE increases the peer reported on validated ACKs.
    public private(set) var congestionEvents: UInt64 = 0

    private var lastCounts = [ECNCounts](repeating: ECNCounts(ect0: 0, ect1: 0, ce: 0), count: 3)
    private var largestChecked = [UInt64?](repeating: nil, count: 3)

    /// Creates a validator; a disabled one never marks.
    public init(isEnabled: Bool = true) {
        state = isEnabled ? .testing : .failed
    }

    /// Whether outgoing packets carry ECT(0) now.
    @inline(__always)
    public var isMarking: Bool { state != .failed }

    /// The IP ECN codepoint for outgoing datagrams: ECT(0) (0b10) while marking, else Not-ECT.
    @inline(__always)
    public var codepoint: UInt8 { state != .failed ? 0b10 : 0 }

    /// Counts a marked packet as sent.
    @inline(__always)
    public mutating func onMarkedPacketSent() {
        markedSent &+= 1
    }

    /// Checks the ECN section of an ACK frame received in the space `spaceIndex` (RFC 9000 §13.4.2.1).
    ///
    /// - Parameters:
    ///   - counts: the ACK's ECN counts, nil for a plain ACK (frame type 0x02).
    ///   - largestAcknowledged: the ACK's largest acknowledged packet number.
    ///   - newlyAcknowledgedMarked: how many packets sent with ECT(0) this ACK newly acknowledges.
    /// - Returns: whether the CE count rose on a valid ACK, which the congestion controller treats as a loss
    ///   (RFC 9002 §B.7).
    public mutating func onAck(
        counts: ECNCounts?, largestAcknowledged: UInt64, newlyAcknowledgedMarked: Int, spaceIndex: Int
    ) -> Bool {
        markedAcknowledged &+= UInt64(newlyAcknowledgedMarked)
        guard state != .failed, spaceIndex >= 0, spaceIndex < 3 else { return false }
        if let checked = largestChecked[spaceIndex], largestAcknowledged <= checked { return false }
        largestChecked[spaceIndex] = largestAcknowledged
        guard let counts else {
            // Marked packets acknowledged without counts: the peer or the path bleached ECN.
            if newlyAcknowledgedMarked > 0 { state = .failed }
            return false
        }
        let previous = lastCounts[spaceIndex]
        guard counts.ect0 >= previous.ect0, counts.ect1 >= previous.ect1, counts.ce >= previous.ce,
            counts.ect1 == 0  // Ferry never sends ECT(1).
        else {
            state = .failed
            return false
        }
        let increase = (counts.ect0 - previous.ect0) &+ (counts.ce - previous.ce)
        guard increase >= UInt64(newlyAcknowledgedMarked) else {
            state = .failed
            return false
        }
        lastCounts[spaceIndex] = counts
        if newlyAcknowledgedMarked > 0 && state == .testing { state = .capable }
        guard counts.ce > previous.ce else { return false }
        congestionEvents &+= 1
        return true
    }

    /// Counts marked packets declared lost; while testing, losing every marked packet fails validation
    /// (RFC 9000 §13.4.2.1).
    public mutating func onMarkedPacketsLost(_ count: Int) {
        guard count > 0 else { return }
        markedLost &+= UInt64(count)
        if state == .testing, markedAcknowledged == 0, markedLost >= Self.testingPacketCount {
            state = .failed
        }
    }

    /// Starts over on a new path (RFC 9000 §13.4.2: validation is per path).
    public mutating func reset(isEnabled: Bool = true) {
        self = ECNValidator(isEnabled: isEnabled)
    }
}

/// What processing one ACK frame found (RFC 9002 §A.7).
///
/// The arrays are reused scratch buffers: drop the result (or finish with it) before the next
/// `onAckReceived` call and no allocation happens per ACK.
public struct AckResult: Sendable {
    /// Packets newly acknowledged, ascending by packet number. Their frames can be released (e.g. stream data,
    /// `SentFrame.ack` → `ReceivedPacketTracker.onAckOfAck`).
    public var newlyAcknowledged: [SentPacket]
    /// Packets declared lost by this ACK, ascending. Reschedule their frames (RFC 9000 §13.3).
    public var lost: [SentPacket]
    /// Whether this ACK produced an RTT sample (RFC 9002 §5.1).
    public var isRTTSampled: Bool
    /// Whether the losses established persistent congestion (RFC 9002 §7.6); the controller already collapsed.
    public var isPersistentCongestion: Bool
}

/// What a loss detection timer expiry asks of the connection (RFC 9002 §A.9).
public enum TimeoutOutcome: Sendable {
    /// The timer was not due (or nothing was armed).
    case none
    /// Time-threshold loss: these packets of `space` are lost; reschedule their frames.
    case packetsLost(space: PacketNumberSpace, packets: [SentPacket], isPersistentCongestion: Bool)
    /// A probe timeout: send `count` ack-eliciting packets in `space`, even beyond the congestion window
    /// (RFC 9002 §6.2.4, §7.5). Prefer retransmitting unacknowledged data; otherwise send PING. For the client's
    /// anti-deadlock probe (RFC 9002 §6.2.2.1) `count` is 1 and an Initial probe must be padded to 1200 bytes.
    case sendProbes(space: PacketNumberSpace, count: Int)
}

/// Per-space loss detection state (RFC 9002 §A.3).
struct LossDetectionSpace: Sendable {
    var sent = SentPacketQueue()
    var largestSentPacketNumber: UInt64?
    var largestAcknowledged: UInt64?
    var timeOfLastAckElicitingPacket: Instant?
    var lossTime: Instant?
    var ackElicitingInFlight = 0
    var isDiscarded = false
    /// Recently skipped packet numbers; an ACK covering one is an optimistic-ACK attack (RFC 9000 §21.4).
    var skippedPacketNumbers: [UInt64] = []
}

/// Loss detection and probe timeouts across the three packet number spaces (RFC 9002 §6 and Appendix A).
///
/// Pure and clock-free: every entry point takes `now`. The connection reports each sent packet, each received ACK
/// frame and each timer expiry; this type answers with acknowledged and lost packets and probe requests, keeps the
/// RTT estimate and drives the congestion controller. Sent packets live in per-space deques ordered by packet
/// number, so ACK processing is binary search plus a linear walk, with no dictionary and no per-ACK allocation.
///
/// The connection owns the flags the anti-deadlock rules need (RFC 9002 §6.2.2.1): `isHandshakeConfirmed`,
/// `hasPeerCompletedAddressValidation`, `hasHandshakeKeys`, `isAmplificationLimited`. After changing any of them
/// call `rearmTimer(now:)`.
public struct LossDetection {
    /// kPacketThreshold (RFC 9002 §6.1.1).
    public static let packetThreshold: UInt64 = 3
    /// kPersistentCongestionThreshold (RFC 9002 §7.6.1).
    public static let persistentCongestionThreshold: UInt64 = 3

    /// Each path's RTT estimate, congestion controller and counters, indexed by `SentPacket.pathSlot`
    /// (RFC 9000 §9.4); `rtt` and `congestionController` are the selected path's.
    var paths: [PathRecovery]
    /// The slot of the path new packets are sent on.
    public internal(set) var selectedPathSlot: UInt8 = 0
    /// Handshake confirmed (RFC 9001 §4.1.2): enables application-space PTO and max_ack_delay capping.
    public var isHandshakeConfirmed = false
    /// PeerCompletedAddressValidation (RFC 9002 §A.6): always true on servers; on clients true once the handshake
    /// is confirmed or a Handshake packet is acknowledged (the latter is detected here).
    public var hasPeerCompletedAddressValidation: Bool
    /// Whether Handshake keys are available; picks the anti-deadlock probe's space (RFC 9002 §6.2.2.1).
    public var hasHandshakeKeys = false
    /// A server blocked by the anti-amplification limit arms no PTO (RFC 9002 §6.2.2.1).
    public var isAmplificationLimited = false
    /// The peer's max_ack_delay transport parameter (RFC 9000 §18.2), used in PTO and persistent congestion.
    public var peerMaxAckDelay: Duration {
        didSet { peerMaxAckDelayNanoseconds = peerMaxAckDelay.nanosecondsClamped }
    }
    var peerMaxAckDelayNanoseconds: UInt64
    /// pto_count: consecutive PTOs without an acknowledgement (RFC 9002 §6.2.1).
    public internal(set) var ptoCount = 0
    /// ECN validation for the path (RFC 9000 §13.4.2); the connection marks packets while `ecn.isMarking`.
    public var ecn = ECNValidator()

    var spaces = [LossDetectionSpace](repeating: LossDetectionSpace(), count: 3)
    var timer: Instant?
    var ackedScratch: [SentPacket] = []
    var lostScratch: [SentPacket] = []
    /// Scratch for packets of one path when a batch spans several (`forEachPathGroup`).
    var groupScratch: [SentPacket] = []

    /// Creates loss detection for one connection.
    ///
    /// - Parameters:
    ///   - side: servers treat the peer's address validation as complete (RFC 9002 §A.6).
    ///   - congestionController: CUBIC by default (design.md: swappable).
    ///   - initialRTT: 333 ms unless a previous connection suggests better (RFC 9002 §6.2.2).
    ///   - peerMaxAckDelay: the peer's max_ack_delay; 25 ms until its transport parameters arrive.
    public init(
        side: Side, congestionController: any CongestionController = Cubic(),
        initialRTT: Duration = RTTEstimator.defaultInitialRTT, peerMaxAckDelay: Duration = .milliseconds(25)
    ) {
        paths = [PathRecovery(rtt: RTTEstimator(initialRTT: initialRTT), congestionController: congestionController)]
        hasPeerCompletedAddressValidation = side == .server
        self.peerMaxAckDelay = peerMaxAckDelay
        peerMaxAckDelayNanoseconds = peerMaxAckDelay.nanosecondsClamped
        ackedScratch.reserveCapacity(64)
        lostScratch.reserveCapacity(16)
    }

    /// When `onTimeout(now:)` should next be called, or nil (RFC 9002 §A.8 SetLossDetectionTimer).
    public func lossDetectionTimeout() -> Instant? { timer }

    /// Bytes in flight on the selected path across all spaces, as its congestion controller counts them.
    public var bytesInFlight: Int { congestionController.bytesInFlight }

    /// Whether any ack-eliciting packet is outstanding in any space.
    public var hasAckElicitingInFlight: Bool {
        spaces[0].ackElicitingInFlight + spaces[1].ackElicitingInFlight + spaces[2].ackElicitingInFlight > 0
    }

    /// Ack-eliciting packets outstanding in `space`.
    public func ackElicitingInFlight(in space: PacketNumberSpace) -> Int { spaces[space.rawValue].ackElicitingInFlight }

    /// Packets neither acknowledged nor declared lost in `space`.
    public func outstandingPacketCount(in space: PacketNumberSpace) -> Int {
        spaces[space.rawValue].sent.outstandingCount
    }

    /// The largest packet number the peer acknowledged in `space`; packet number encoding needs it
    /// (RFC 9000 §17.1).
    public func largestAcknowledged(in space: PacketNumberSpace) -> UInt64? {
        spaces[space.rawValue].largestAcknowledged
    }

    /// The frames of still-outstanding packets in `space`, oldest first, for probes that retransmit data
    /// (RFC 9002 §6.2.4). Allocates; for PTO only.
    public func outstandingPackets(in space: PacketNumberSpace) -> [SentPacket] {
        let queue = spaces[space.rawValue].sent
        var result: [SentPacket] = []
        for index in queue.startIndex..<queue.endIndex where queue[index].state == .outstanding {
            result.append(queue[index].packet)
        }
        return result
    }

    /// The frames of the `packetLimit` oldest outstanding ack-eliciting packets in `space`, so probe-timeout
    /// probes can retransmit data when nothing new is waiting (RFC 9002 §6.2.4). The packets stay outstanding.
    public func oldestOutstandingFrames(in space: PacketNumberSpace, packetLimit: Int) -> [SentFrame] {
        let queue = spaces[space.rawValue].sent
        var frames: [SentFrame] = []
        var packets = 0
        var index = queue.startIndex
        while index < queue.endIndex, packets < packetLimit {
            if queue.state(at: index) == .outstanding, queue.isAckEliciting(at: index), !queue.isMTUProbe(at: index) {
                frames.append(contentsOf: queue[index].packet.frames)
                packets += 1
            }
            index += 1
        }
        return frames
    }

    /// Records a sent packet (RFC 9002 §A.5 OnPacketSent).
    ///
    /// Packet numbers in a space must increase. Packets that are neither ack-eliciting nor in flight (ACK-only)
    /// may be passed too; they are tracked so an ACK of them is not a protocol violation.
    ///
    /// - Parameter pathSlot: the path the packet leaves on (a path-validation probe on another path); nil is the
    ///   selected path. The packet's `pathSlot` is set from it.
    public mutating func onPacketSent(
        _ packet: SentPacket, space: PacketNumberSpace, now: Instant, pathSlot: UInt8? = nil
    ) {
        var packet = packet
        let slot = pathSlot.flatMap { pathRecovery($0) != nil ? $0 : nil } ?? selectedPathSlot
        packet.pathSlot = slot
        let index = space.rawValue
        guard !spaces[index].isDiscarded else { return }
        if let largest = spaces[index].largestSentPacketNumber, packet.packetNumber <= largest {
            assertionFailure("packet numbers must increase")
            return
        }
        spaces[index].largestSentPacketNumber = packet.packetNumber
        spaces[index].sent.append(packet)
        paths[Int(slot)].outstandingPackets += 1
        if packet.isECNMarked { ecn.onMarkedPacketSent() }
        if packet.isInFlight {
            if packet.isAckEliciting {
                spaces[index].timeOfLastAckElicitingPacket = packet.timeSent
                spaces[index].ackElicitingInFlight += 1
            }
            paths[Int(slot)].congestionController.onPacketSent(size: packet.size, now: now)
            setLossDetectionTimer(now: now)
        }
    }

    /// Records a packet number deliberately left unused, so an ACK claiming it is detected as an optimistic-ACK
    /// attack (RFC 9000 §21.4); the connection may skip one now and then. The last few are remembered.
    public mutating func onPacketNumberSkipped(_ packetNumber: UInt64, space: PacketNumberSpace) {
        let index = space.rawValue
        if let largest = spaces[index].largestSentPacketNumber, packetNumber <= largest { return }
        spaces[index].largestSentPacketNumber = packetNumber
        if spaces[index].skippedPacketNumbers.count >= 4 { spaces[index].skippedPacketNumbers.removeFirst() }
        spaces[index].skippedPacketNumbers.append(packetNumber)
    }

    /// Processes an ACK frame received in `space` (RFC 9002 §A.7 OnAckReceived).
    ///
    /// - Parameters:
    ///   - ackDelayExponent: the peer's ack_delay_exponent (3 by default; RFC 9000 §18.2).
    ///   - maxAckDelay: the peer's max_ack_delay; also stored as `peerMaxAckDelay`.
    /// - Throws: PROTOCOL_VIOLATION if the ACK covers a packet number never sent in this space
    ///   (RFC 9000 §13.1), including one passed to `onPacketNumberSkipped`.
    public mutating func onAckReceived(
        _ ack: AckFrame, space: PacketNumberSpace, ackDelayExponent: UInt8 = 3, maxAckDelay: Duration,
        now: Instant
    ) throws(TransportError) -> AckResult {
        let index = space.rawValue
        if maxAckDelay != peerMaxAckDelay { peerMaxAckDelay = maxAckDelay }
        ackedScratch.removeAll(keepingCapacity: true)
        lostScratch.removeAll(keepingCapacity: true)
        guard let largestSent = spaces[index].largestSentPacketNumber, ack.largestAcknowledged <= largestSent else {
            throw TransportError(
                .protocolViolation, frameType: ack.ecnCounts == nil ? 0x02 : 0x03,
                reason: "ACK of unsent packet \(ack.largestAcknowledged) in \(space)")
        }
        guard !spaces[index].isDiscarded else {
            return AckResult(newlyAcknowledged: [], lost: [], isRTTSampled: false, isPersistentCongestion: false)
        }
        for skipped in spaces[index].skippedPacketNumbers {
            for range in ack.ranges where range.contains(skipped) {
                throw TransportError(
                    .protocolViolation, frameType: ack.ecnCounts == nil ? 0x02 : 0x03,
                    reason: "ACK of skipped packet \(skipped) in \(space)")
            }
        }
        spaces[index].largestAcknowledged = max(spaces[index].largestAcknowledged ?? 0, ack.largestAcknowledged)

        // Detect and remove acknowledged packets, walking ranges from the smallest upward.
        var cursor = spaces[index].sent.startIndex
        let end = spaces[index].sent.endIndex
        var includesAckEliciting = false
        var newlyAcknowledgedMarked = 0
        for range in ack.ranges.reversed() where range.upperBound <= ack.largestAcknowledged {
            cursor = max(cursor, spaces[index].sent.firstIndex(atOrAbove: range.lowerBound))
            while cursor < end {
                if spaces[index].sent.packetNumber(at: cursor) > range.upperBound { break }
                if spaces[index].sent.state(at: cursor) == .outstanding {
                    let packet = spaces[index].sent.settle(at: cursor, as: .acknowledged)
                    settleOnPath(packet.pathSlot, isLost: false)
                    if packet.isECNMarked { newlyAcknowledgedMarked += 1 }
                    if packet.isAckEliciting {
                        includesAckEliciting = true
                        if packet.isInFlight { spaces[index].ackElicitingInFlight -= 1 }
                    }
                    ackedScratch.append(packet)
                }
                cursor += 1
            }
        }
        guard let largestNewlyAcked = ackedScratch.last else {
            return AckResult(newlyAcknowledged: [], lost: [], isRTTSampled: false, isPersistentCongestion: false)
        }

        // RTT sample: the largest acknowledged is newly acknowledged and something ack-eliciting was (§5.1). It
        // measures the path that packet left on (RFC 9000 §9.4); an orphan's path is gone.
        var isRTTSampled = false
        let sampledSlot = Int(largestNewlyAcked.pathSlot)
        if largestNewlyAcked.packetNumber == ack.largestAcknowledged, includesAckEliciting,
            sampledSlot < paths.count, paths[sampledSlot].isInUse
        {
            let ackDelay = space == .application
                ? Self.decodeAckDelayNanoseconds(ack.ackDelay, exponent: ackDelayExponent) : 0
            paths[sampledSlot].rtt.update(
                latestNanoseconds: now.nanoseconds(since: largestNewlyAcked.timeSent), ackDelayNanoseconds: ackDelay,
                maxAckDelayNanoseconds: peerMaxAckDelayNanoseconds, isHandshakeConfirmed: isHandshakeConfirmed)
            if paths[sampledSlot].firstRTTSampleTime == nil { paths[sampledSlot].firstRTTSampleTime = now }
            isRTTSampled = true
        }

        // Validate the ECN counts; a CE increase on a valid ACK is a congestion signal (RFC 9000 §13.4.2,
        // RFC 9002 §B.7 ProcessECN).
        if ecn.onAck(
            counts: ack.ecnCounts, largestAcknowledged: ack.largestAcknowledged,
            newlyAcknowledgedMarked: newlyAcknowledgedMarked, spaceIndex: index)
        {
            pathRecovery(largestNewlyAcked.pathSlot)?.congestionController.onECNCongestionEvent(
                timeSent: largestNewlyAcked.timeSent, now: now)
        }

        let persistentSlots = detectAndRemoveLostPackets(spaceIndex: index, now: now)
        if !lostScratch.isEmpty { reportLost(lostScratch, persistentSlots: persistentSlots, now: now) }
        reportAcknowledged(ackedScratch, now: now)
        spaces[index].sent.trimFront()

        // A client learns the server validated its address when a Handshake packet is acknowledged (§A.6).
        if space == .handshake { hasPeerCompletedAddressValidation = true }
        if hasPeerCompletedAddressValidation { ptoCount = 0 }
        setLossDetectionTimer(now: now)
        return AckResult(
            newlyAcknowledged: ackedScratch, lost: lostScratch, isRTTSampled: isRTTSampled,
            isPersistentCongestion: persistentSlots != 0)
    }

    /// The peer's encoded ACK Delay scaled to a duration: value × 2^exponent microseconds (RFC 9000 §19.3).
    public static func decodeAckDelay(_ encoded: UInt64, exponent: UInt8) -> Duration {
        .nanoseconds(decodeAckDelayNanoseconds(encoded, exponent: exponent))
    }

    static func decodeAckDelayNanoseconds(_ encoded: UInt64, exponent: UInt8) -> UInt64 {
        let shift = UInt64(min(exponent, 20))
        let microseconds = encoded > (UInt64.max >> shift) ? UInt64.max : encoded << shift
        return saturatingMultiply(microseconds, 1000)
    }

    /// Declares packets lost by packet or time threshold and sets the space's loss time (RFC 9002 §A.10), putting
    /// them in `lostScratch`. Returns a bit mask of the path slots whose losses establish persistent congestion
    /// (RFC 9002 §7.6.2).
    ///
    /// Each packet is judged with the RTT of the path it was sent on, and a persistent-congestion period only
    /// spans consecutive packets of one path: a lossy old path says nothing about the new one (RFC 9000 §9.4).
    mutating func detectAndRemoveLostPackets(spaceIndex index: Int, now: Instant) -> UInt64 {
        spaces[index].lossTime = nil
        guard let largestAcked = spaces[index].largestAcknowledged else { return 0 }
        // The thresholds of the path of the packet at hand; recomputed only when the path changes.
        var slot = selectedPathSlot
        var thresholds = lossThresholds(slot)
        var runStart: Instant?
        var persistentSlots: UInt64 = 0
        var markedLost = 0
        defer { ecn.onMarkedPacketsLost(markedLost) }
        var cursor = spaces[index].sent.startIndex
        let end = spaces[index].sent.endIndex
        while cursor < end {
            // Read through `spaces[index]` each time: a local copy of the queue would force copy-on-write below.
            let packetNumber = spaces[index].sent.packetNumber(at: cursor)
            if packetNumber > largestAcked { break }
            let timeSent = spaces[index].sent.timeSent(at: cursor)
            let packetSlot = spaces[index].sent.pathSlot(at: cursor)
            if packetSlot != slot {
                slot = packetSlot
                thresholds = lossThresholds(slot)
                runStart = nil
            }
            switch spaces[index].sent.state(at: cursor) {
            case .acknowledged:
                // An acknowledgement between two losses breaks the congestion period (RFC 9002 §7.6.2).
                runStart = nil
            case .lost:
                // Lost PMTU probes say nothing about congestion (RFC 9000 §14.4).
                if spaces[index].sent.isAckEliciting(at: cursor), !spaces[index].sent.isMTUProbe(at: cursor),
                    runStart == nil, thresholds.firstSample.map({ timeSent >= $0 }) ?? false
                {
                    runStart = timeSent
                }
            case .outstanding:
                let lossDeadline = timeSent.advanced(byNanoseconds: thresholds.lossDelay)
                if lossDeadline <= now || largestAcked >= packetNumber &+ Self.packetThreshold {
                    let lostPacket = spaces[index].sent.settle(at: cursor, as: .lost)
                    settleOnPath(lostPacket.pathSlot, isLost: true)
                    if lostPacket.isAckEliciting && lostPacket.isInFlight {
                        spaces[index].ackElicitingInFlight -= 1
                    }
                    lostScratch.append(lostPacket)
                    if lostPacket.isECNMarked { markedLost += 1 }
                    if lostPacket.isAckEliciting && !lostPacket.isMTUProbe {
                        if let start = runStart {
                            if lostPacket.timeSent.nanoseconds(since: start) > thresholds.congestionPeriod,
                                slot != PathRecovery.orphanSlot
                            {
                                persistentSlots |= 1 << UInt64(slot)
                            }
                        } else if thresholds.firstSample.map({ lostPacket.timeSent >= $0 }) ?? false {
                            runStart = lostPacket.timeSent
                        }
                    }
                } else {
                    let current = spaces[index].lossTime
                    spaces[index].lossTime = current.map { min($0, lossDeadline) } ?? lossDeadline
                    runStart = nil
                }
            }
            cursor += 1
        }
        return persistentSlots
    }

    /// The time-threshold loss delay, persistent congestion period and first RTT sample time of the path in
    /// `slot` (RFC 9002 §6.1.2, §7.6.1); an orphan (released path) is judged with the selected path's RTT and
    /// never starts a congestion period.
    private func lossThresholds(_ slot: UInt8) -> (lossDelay: UInt64, congestionPeriod: UInt64, firstSample: Instant?) {
        guard let path = pathRecovery(slot) else {
            return (paths[Int(selectedPathSlot)].rtt.lossDelayNanoseconds, .max, nil)
        }
        return (path.rtt.lossDelayNanoseconds, persistentCongestionNanoseconds(path.rtt), path.firstRTTSampleTime)
    }

    /// (smoothed_rtt + max(4 × rttvar, kGranularity) + max_ack_delay) × kPersistentCongestionThreshold
    /// (RFC 9002 §7.6.1).
    /// The selected path's, that is.
    public var persistentCongestionDuration: Duration { .nanoseconds(persistentCongestionNanoseconds(rtt)) }

    func persistentCongestionNanoseconds(_ rtt: RTTEstimator) -> UInt64 {
        saturatingMultiply(
            saturatingAdd(rtt.probeTimeoutBaseNanoseconds, peerMaxAckDelayNanoseconds),
            Self.persistentCongestionThreshold)
    }
}

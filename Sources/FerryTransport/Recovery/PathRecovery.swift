/// The recovery state of one network path: its RTT estimate, congestion controller and loss count
/// (RFC 9000 §9.4, RFC 9002 §A.3, §B.2).
///
/// QUIC v1 numbers packets per packet number space, not per path, so one `LossDetection` decides what is
/// acknowledged or lost; but a new path has its own capacity and delay (RFC 9000 §9.4), so each sent packet
/// records the slot of the path it left on (`SentPacket.pathSlot`) and its acknowledgement, loss, RTT sample and
/// congestion signal go to that slot, not to whichever path is selected when the verdict arrives.
public struct PathRecovery {
    /// The path's RTT estimate (RFC 9002 §5).
    public internal(set) var rtt: RTTEstimator
    /// The path's congestion controller (RFC 9002 §7). A port-only change of the peer's address may share the
    /// previous path's controller object (RFC 9000 §9.4).
    public internal(set) var congestionController: any CongestionController
    /// Packets sent on the path that are neither acknowledged, lost nor discarded.
    public internal(set) var outstandingPackets = 0
    /// Packets sent on the path that were declared lost (RFC 9002 §6.1).
    public internal(set) var packetsLost: UInt64 = 0
    /// When the path's first RTT sample arrived: persistent congestion needs one (RFC 9002 §7.6.2).
    var firstRTTSampleTime: Instant?
    /// Whether a path owns this slot; a released slot may be handed to the next path.
    var isInUse = true

    /// The slot of packets whose path was released while they were outstanding: their acknowledgement or loss
    /// still repairs data, but feeds no RTT estimate or congestion controller.
    public static let orphanSlot = UInt8.max

    /// The slots loss detection can track; a connection keeps far fewer paths.
    static let slotLimit = 32
}

extension LossDetection {
    /// The RTT estimate of the selected path (RFC 9002 §5).
    public internal(set) var rtt: RTTEstimator {
        get { paths[Int(selectedPathSlot)].rtt }
        set { paths[Int(selectedPathSlot)].rtt = newValue }
    }

    /// The congestion controller of the selected path (RFC 9002 §7).
    public internal(set) var congestionController: any CongestionController {
        get { paths[Int(selectedPathSlot)].congestionController }
        set { paths[Int(selectedPathSlot)].congestionController = newValue }
    }

    /// The recovery state of the path in `slot`, or nil for a slot no path owns.
    public func pathRecovery(_ slot: UInt8) -> PathRecovery? {
        guard Int(slot) < paths.count, paths[Int(slot)].isInUse else { return nil }
        return paths[Int(slot)]
    }

    /// Adds a path with its own RTT estimate and controller and returns its slot (RFC 9000 §9.4). Pass the
    /// selected path's controller to keep congestion state across a port-only change.
    mutating func addPath(rtt: RTTEstimator, congestionController: any CongestionController) -> UInt8 {
        let state = PathRecovery(rtt: rtt, congestionController: congestionController)
        if let free = paths.firstIndex(where: { !$0.isInUse }) {
            paths[free] = state
            return UInt8(free)
        }
        // The connection bounds its paths (four, plus four draining) far below the limit; should that ever fail,
        // sharing the selected slot skews statistics but keeps the connection alive.
        guard paths.count < PathRecovery.slotLimit else { return selectedPathSlot }
        paths.append(state)
        return UInt8(paths.count - 1)
    }

    /// Sends new packets on the path in `slot`; PTO and the selected-path accessors use its RTT.
    mutating func selectPath(_ slot: UInt8) {
        guard Int(slot) < paths.count, paths[Int(slot)].isInUse else { return }
        selectedPathSlot = slot
    }

    /// Frees the slot of a path the connection forgot. Its outstanding packets stay in loss detection (their
    /// frames are still repaired) as orphans, and their bytes leave the controller's bytes in flight, which
    /// matters when the controller is shared with a live path (RFC 9002 §6.4 treats discarded bytes alike).
    mutating func releasePath(_ slot: UInt8) {
        let index = Int(slot)
        guard slot != selectedPathSlot, index < paths.count, paths[index].isInUse else { return }
        var bytes = 0
        for space in spaces.indices { bytes += spaces[space].sent.orphanPackets(onPathSlot: slot) }
        if bytes > 0 { paths[index].congestionController.onPacketsDiscarded(bytes: bytes) }
        paths[index].isInUse = false
        paths[index].outstandingPackets = 0
    }

    /// Counts a packet leaving the outstanding set of its path.
    @inline(__always)
    mutating func settleOnPath(_ slot: UInt8, isLost: Bool) {
        let index = Int(slot)
        guard index < paths.count else { return }
        paths[index].outstandingPackets -= 1
        if isLost { paths[index].packetsLost += 1 }
    }

    /// Reports `packets` to the controller of the path each was sent on: one call per path, with a reused scratch
    /// array when they span several paths (rare: only around a migration). Orphans go nowhere.
    mutating func forEachPathGroup(
        of packets: [SentPacket], _ body: (_ slot: UInt8, _ state: PathRecovery, _ group: [SentPacket]) -> Void
    ) {
        guard let first = packets.first?.pathSlot else { return }
        if packets.allSatisfy({ $0.pathSlot == first }) {
            if Int(first) < paths.count, paths[Int(first)].isInUse { body(first, paths[Int(first)], packets) }
            return
        }
        var group = groupScratch
        groupScratch = []
        for slot in paths.indices where paths[slot].isInUse {
            group.removeAll(keepingCapacity: true)
            for packet in packets where packet.pathSlot == UInt8(slot) { group.append(packet) }
            if !group.isEmpty { body(UInt8(slot), paths[slot], group) }
        }
        group.removeAll(keepingCapacity: true)
        groupScratch = group
    }

    /// Tells each path's controller about its newly acknowledged packets, with that path's RTT (RFC 9002 §B.5).
    mutating func reportAcknowledged(_ packets: [SentPacket], now: Instant) {
        forEachPathGroup(of: packets) { _, state, group in
            state.congestionController.onPacketsAcknowledged(group, rtt: state.rtt, now: now)
        }
    }

    /// Tells each path's controller about its lost packets; `persistentSlots` has bit `slot` set for the paths
    /// whose losses establish persistent congestion (RFC 9002 §7.6, §B.8).
    mutating func reportLost(_ packets: [SentPacket], persistentSlots: UInt64, now: Instant) {
        forEachPathGroup(of: packets) { slot, state, group in
            state.congestionController.onPacketsLost(
                group, persistentCongestion: persistentSlots & (1 << UInt64(slot)) != 0, now: now)
        }
    }

    /// Removes in-flight bytes from the controllers of the paths the packets were sent on, without a congestion
    /// signal (RFC 9002 §6.4), and settles them on their paths.
    mutating func discardOnPaths(_ packets: [SentPacket]) {
        for packet in packets { settleOnPath(packet.pathSlot, isLost: false) }
        forEachPathGroup(of: packets) { _, state, group in
            let bytes = group.reduce(0) { $0 + ($1.isInFlight ? $1.size : 0) }
            if bytes > 0 { state.congestionController.onPacketsDiscarded(bytes: bytes) }
        }
    }
}

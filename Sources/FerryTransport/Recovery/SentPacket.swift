/// A packet the connection sent and still tracks for acknowledgement or loss (RFC 9002 §A.1.1).
///
/// `frames` lists what the packet carried that matters later: on loss the connection reschedules each frame's
/// *current* content (RFC 9000 §13.3); on acknowledgement owners may release buffers.
public struct SentPacket: Sendable, Equatable {
    /// The full packet number.
    public var packetNumber: UInt64
    /// When the packet was sent.
    public var timeSent: Instant
    /// Bytes counted against the congestion window: the whole UDP payload share of this QUIC packet.
    public var size: Int
    /// Whether the packet contains frames other than ACK, PADDING and CONNECTION_CLOSE (RFC 9002 §2).
    public var isAckEliciting: Bool
    /// Whether the packet counts toward bytes in flight: ack-eliciting or carrying PADDING (RFC 9002 §2).
    public var isInFlight: Bool
    /// Whether this is a DPLPMTUD probe (RFC 8899 §4.1): its loss says the packet was too large, not that the
    /// path is congested, so it never triggers a congestion response (RFC 9000 §14.4).
    public var isMTUProbe: Bool
    /// Whether the packet left with the ECT(0) codepoint, for ECN validation (RFC 9000 §13.4.2).
    public var isECNMarked: Bool
    /// The recovery slot of the path the packet left on (`LossDetection` stamps it when the packet is sent), so
    /// its acknowledgement, loss and RTT sample are charged to that path (RFC 9000 §9.4). One byte in the record's
    /// padding: no allocation per packet.
    public var pathSlot: UInt8 = 0
    /// The frames to act on when the packet is acknowledged or lost.
    public var frames: [SentFrame]

    /// Creates a record of a sent packet; `isInFlight` defaults to `isAckEliciting`.
    public init(
        packetNumber: UInt64, timeSent: Instant, size: Int, isAckEliciting: Bool, isInFlight: Bool? = nil,
        isMTUProbe: Bool = false, isECNMarked: Bool = false, frames: [SentFrame] = []
    ) {
        self.packetNumber = packetNumber
        self.timeSent = timeSent
        self.size = size
        self.isAckEliciting = isAckEliciting
        self.isInFlight = isInFlight ?? isAckEliciting
        self.isMTUProbe = isMTUProbe
        self.isECNMarked = isECNMarked
        self.frames = frames
    }
}

/// Sent packets of one space, ordered by packet number, in a compacting array deque.
///
/// Packet numbers only increase (RFC 9000 §12.3), so lookups are binary searches and removal marks a slot settled;
/// settled slots at the front are dropped and the storage is compacted in amortised O(1). Settled slots in the
/// middle remember whether they were acknowledged, which persistent congestion detection needs (RFC 9002 §7.6.2).
struct SentPacketQueue: Sendable {
    enum SlotState: UInt8, Sendable { case outstanding, acknowledged, lost }

    struct Slot: Sendable {
        var packet: SentPacket
        var state: SlotState
    }

    private(set) var slots: [Slot] = []
    private(set) var head = 0
    /// Outstanding (neither acknowledged nor lost) packets.
    private(set) var outstandingCount = 0

    var startIndex: Int { head }
    var endIndex: Int { slots.count }
    var isEmpty: Bool { outstandingCount == 0 }

    subscript(index: Int) -> Slot { slots[index] }

    /// The packet number at `index`, read without copying the slot (and retaining its frame list).
    func packetNumber(at index: Int) -> UInt64 { slots[index].packet.packetNumber }

    /// The state of the slot at `index`.
    func state(at index: Int) -> SlotState { slots[index].state }

    /// The send time of the packet at `index`.
    func timeSent(at index: Int) -> Instant { slots[index].packet.timeSent }

    /// Whether the packet at `index` is ack-eliciting.
    func isAckEliciting(at index: Int) -> Bool { slots[index].packet.isAckEliciting }

    /// The path slot the packet at `index` was sent on.
    func pathSlot(at index: Int) -> UInt8 { slots[index].packet.pathSlot }

    /// Whether the packet at `index` is a PMTU probe, which persistent congestion ignores (RFC 9000 §14.4).
    func isMTUProbe(at index: Int) -> Bool { slots[index].packet.isMTUProbe }

    /// The last packet number appended, if any.
    var largestPacketNumber: UInt64? { slots.last?.packet.packetNumber }

    mutating func append(_ packet: SentPacket) {
        slots.append(Slot(packet: packet, state: .outstanding))
        outstandingCount += 1
    }

    /// The first index in `head..<endIndex` whose packet number is ≥ `packetNumber`.
    func firstIndex(atOrAbove packetNumber: UInt64) -> Int {
        var low = head
        var high = slots.count
        while low < high {
            let middle = (low + high) / 2
            if slots[middle].packet.packetNumber < packetNumber { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Marks the outstanding packet at `index` settled and returns it; its frame list is released from the queue.
    mutating func settle(at index: Int, as state: SlotState) -> SentPacket {
        let packet = slots[index].packet
        slots[index].packet.frames = []
        slots[index].state = state
        outstandingCount -= 1
        return packet
    }

    /// Drops settled slots at the front, compacting storage when the dead prefix dominates.
    mutating func trimFront() {
        while head < slots.count, slots[head].state != .outstanding { head += 1 }
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32, head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
    }

    /// Removes everything, returning the packets that were outstanding.
    mutating func removeAll() -> [SentPacket] {
        var outstanding: [SentPacket] = []
        for index in head..<slots.count where slots[index].state == .outstanding {
            outstanding.append(slots[index].packet)
        }
        slots.removeAll(keepingCapacity: false)
        head = 0
        outstandingCount = 0
        return outstanding
    }

    /// Moves the outstanding packets sent on path `slot` to `PathRecovery.orphanSlot` (their path was released);
    /// returns their in-flight bytes.
    mutating func orphanPackets(onPathSlot slot: UInt8) -> Int {
        var bytes = 0
        for index in head..<slots.count where slots[index].state == .outstanding && slots[index].packet.pathSlot == slot {
            slots[index].packet.pathSlot = PathRecovery.orphanSlot
            if slots[index].packet.isInFlight { bytes += slots[index].packet.size }
        }
        return bytes
    }
}

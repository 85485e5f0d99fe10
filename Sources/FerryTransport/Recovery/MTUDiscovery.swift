/// Datagram Packetization Layer Path MTU Discovery for one path (DPLPMTUD, RFC 8899; RFC 9000 §14.3).
///
/// The path starts at the 1200-byte QUIC minimum (BASE_PLPMTU). Once the handshake is confirmed the connection
/// sends probe packets (PING + PADDING, RFC 9000 §14.4) of the size `probeSize(now:)` names: first the largest
/// size both sides allow, so a path that carries it (loopback, most Ethernet) is done after one round trip, then a
/// binary search between the largest acknowledged and the smallest failed size. A size fails after `maxProbes`
/// lost probes (MAX_PROBES, RFC 8899 §5.1.2). The search stops when the interval is narrower than
/// `searchGranularity`, and starts again after `raiseInterval` (PMTU_RAISE_TIMER) in case the path grew.
///
/// Black-hole detection (RFC 8899 §4.3): if at least `blackHoleThreshold` packets larger than the base are lost
/// with no larger packet acknowledged in between, and a base-sized packet sent after the first of those losses is
/// acknowledged, the path no longer carries the current size: it drops back to 1200 and searches again. The
/// connection makes probe-timeout probes base-sized after repeated PTOs so such an acknowledgement can arrive.
///
/// Probe losses never count as congestion (`SentPacket.isMTUProbe`). Clock-free: every entry point takes `now`.
public struct MTUDiscovery: Sendable {
    /// BASE_PLPMTU: the smallest UDP payload QUIC requires a path to carry (RFC 9000 §14).
    public static let baseMTU = 1200
    /// MAX_PROBES: lost probes of one size before the size counts as too large (RFC 8899 §5.1.2).
    public static let maxProbes = 3
    /// The binary search stops once the candidate interval is narrower than this many bytes.
    public static let searchGranularity = 20
    /// PMTU_RAISE_TIMER: how long after a finished search to probe upward again (RFC 8899 §5.1.1).
    public static let raiseInterval: Duration = .seconds(600)
    /// Lost large packets (with no large packet acknowledged since) that, with a later small packet
    /// acknowledged, signal a black hole.
    public static let blackHoleThreshold = 4

    /// The largest UDP payload currently confirmed for the path (PLPMTU).
    public private(set) var currentMTU: Int
    /// The upper bound of the search: min(local maximum, peer's max_udp_payload_size).
    public let maximumMTU: Int
    /// Whether probing is allowed at all.
    public let isEnabled: Bool
    /// How often the path fell back to the base size after a black hole.
    public private(set) var blackHoleCount = 0
    /// Probes acknowledged and lost, for diagnostics.
    public private(set) var probesAcknowledged = 0
    public private(set) var probesLost = 0

    /// The smallest size known (or assumed) not to pass; the search is over (currentMTU, upperBound).
    private var upperBound: Int
    /// The size probed next, nil when the search is complete.
    private var candidate: Int?
    /// Lost probes of `candidate`.
    private var candidateFailures = 0
    /// The probe in flight: packet number and size. At most one at a time.
    private var probeInFlight: (packetNumber: UInt64, size: Int)?
    /// When a complete search starts over; set lazily on the first query after completion.
    private var nextSearchTime: Instant?

    private var largeLossesSinceLargeAck = 0
    private var firstLargeLossTimeSent: Instant?

    /// Creates discovery for a path whose endpoints allow datagrams up to `maximumMTU` bytes.
    public init(maximumMTU: Int, isEnabled: Bool = true) {
        self.maximumMTU = max(Self.baseMTU, maximumMTU)
        self.isEnabled = isEnabled && maximumMTU > Self.baseMTU
        currentMTU = Self.baseMTU
        upperBound = self.maximumMTU + 1
        candidate = self.isEnabled ? self.maximumMTU : nil
    }

    /// Whether a probe is outstanding.
    public var isProbing: Bool { probeInFlight != nil }

    /// The size of the probe to send now, or nil: none while one is in flight, and none after a finished search
    /// until `raiseInterval` passed.
    public mutating func probeSize(now: Instant) -> Int? {
        guard isEnabled, probeInFlight == nil else { return nil }
        if let candidate { return candidate }
        guard let nextSearchTime else {
            nextSearchTime = now + Self.raiseInterval
            return nil
        }
        guard now >= nextSearchTime, currentMTU < maximumMTU else { return nil }
        self.nextSearchTime = nil
        upperBound = maximumMTU + 1
        candidate = maximumMTU
        candidateFailures = 0
        return candidate
    }

    /// Records a probe of `size` bytes sent as packet `packetNumber`.
    public mutating func onProbeSent(packetNumber: UInt64, size: Int) {
        probeInFlight = (packetNumber, size)
    }

    /// Processes the packets one ACK (or loss timer) settled: first the lost ones, then the acknowledged ones,
    /// both ascending. Returns whether `currentMTU` changed (raised by a probe, or dropped by a black hole).
    public mutating func onPacketsSettled(acknowledged: [SentPacket], lost: [SentPacket]) -> Bool {
        let before = currentMTU
        for packet in lost {
            if packet.isMTUProbe {
                onProbeLost(packetNumber: packet.packetNumber)
            } else if packet.size > Self.baseMTU {
                if largeLossesSinceLargeAck == 0 { firstLargeLossTimeSent = packet.timeSent }
                largeLossesSinceLargeAck += 1
            }
        }
        for packet in acknowledged {
            if packet.isMTUProbe {
                onProbeAcknowledged(packetNumber: packet.packetNumber, size: packet.size)
            } else if packet.size > Self.baseMTU {
                largeLossesSinceLargeAck = 0
                firstLargeLossTimeSent = nil
            } else if largeLossesSinceLargeAck >= Self.blackHoleThreshold, currentMTU > Self.baseMTU,
                let first = firstLargeLossTimeSent, packet.timeSent >= first
            {
                onBlackHole()
            }
        }
        return currentMTU != before
    }

    /// Whether probe-timeout probes should be base-sized: after `ptoCount` consecutive PTOs above the base
    /// size the path may have stopped carrying large packets (RFC 8899 §4.3).
    public func limitsProbeTimeoutProbes(ptoCount: Int) -> Bool {
        ptoCount >= 2 && currentMTU > Self.baseMTU
    }

    private mutating func onProbeAcknowledged(packetNumber: UInt64, size: Int) {
        guard let probe = probeInFlight, probe.packetNumber == packetNumber else { return }
        probeInFlight = nil
        probesAcknowledged += 1
        if size > currentMTU { currentMTU = min(size, maximumMTU) }
        largeLossesSinceLargeAck = 0
        firstLargeLossTimeSent = nil
        chooseNextCandidate()
    }

    private mutating func onProbeLost(packetNumber: UInt64) {
        guard let probe = probeInFlight, probe.packetNumber == packetNumber else { return }
        probeInFlight = nil
        probesLost += 1
        guard probe.size == candidate else { return }
        candidateFailures += 1
        if candidateFailures >= Self.maxProbes {
            upperBound = min(upperBound, probe.size)
            chooseNextCandidate()
        }
    }

    /// Binary search over (currentMTU, upperBound); done when the interval is narrower than the granularity.
    private mutating func chooseNextCandidate() {
        candidateFailures = 0
        let next = (currentMTU + upperBound) / 2
        if upperBound - currentMTU <= 1 || next - currentMTU < Self.searchGranularity {
            candidate = nil
            nextSearchTime = nil
        } else {
            candidate = next
        }
    }

    /// The path lost the current size: back to the base and search again from the top (RFC 8899 §4.3).
    private mutating func onBlackHole() {
        blackHoleCount += 1
        currentMTU = Self.baseMTU
        largeLossesSinceLargeAck = 0
        firstLargeLossTimeSent = nil
        probeInFlight = nil
        upperBound = maximumMTU + 1
        candidate = maximumMTU
        candidateFailures = 0
    }
}

import FerryTransport

/// Identifies one network path of a connection (RFC 9000 §9): a local/remote address pair.
public struct PathID: Sendable, Hashable, CustomStringConvertible {
    /// The path's number within its connection; the handshake path is 0.
    public var rawValue: UInt64

    /// Wraps a path number.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public var description: String { "path \(rawValue)" }
}

/// Counters and estimates for one path (RFC 9002 §5, §7), as a hook or monitor sees them.
public struct PathStats: Sendable, Hashable {
    /// The smoothed round-trip time (RFC 9002 §5.3).
    public var rtt: Duration
    /// The minimum observed round-trip time (RFC 9002 §5.2).
    public var minRTT: Duration
    /// The congestion window in bytes (RFC 9002 §7).
    public var congestionWindow: Int
    /// UDP payload bytes sent and received on the path.
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    /// Datagrams sent and received on the path.
    public var datagramsSent: UInt64
    public var datagramsReceived: UInt64
    /// Packets declared lost on the path (RFC 9002 §6.1).
    public var lostPackets: UInt64
    /// The largest UDP payload currently used on the path (RFC 9000 §14).
    public var mtu: Int

    /// Creates path statistics; every field defaults to zero (RTT) or the QUIC minimum (MTU 1200).
    public init(
        rtt: Duration = .zero,
        minRTT: Duration = .zero,
        congestionWindow: Int = 0,
        bytesSent: UInt64 = 0,
        bytesReceived: UInt64 = 0,
        datagramsSent: UInt64 = 0,
        datagramsReceived: UInt64 = 0,
        lostPackets: UInt64 = 0,
        mtu: Int = 1200
    ) {
        self.rtt = rtt
        self.minRTT = minRTT
        self.congestionWindow = congestionWindow
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.datagramsSent = datagramsSent
        self.datagramsReceived = datagramsReceived
        self.lostPackets = lostPackets
        self.mtu = mtu
    }

    /// The statistics of a connection's only path, from the transport's connection-wide counters.
    ///
    /// The transport counts packets rather than datagrams; with one path every received datagram holds at
    /// least one packet, so packet counts stand in for datagram counts (an upper bound when packets coalesce).
    public init(connection stats: ConnectionStats) {
        self.init(
            rtt: stats.smoothedRTT,
            minRTT: stats.minRTT,
            congestionWindow: stats.congestionWindow,
            bytesSent: stats.bytesSent,
            bytesReceived: stats.bytesReceived,
            datagramsSent: stats.packetsSent,
            datagramsReceived: stats.packetsReceived,
            lostPackets: stats.packetsLost,
            mtu: stats.pathMTU
        )
    }
}

extension PathStats {
    /// The statistics of one path as the transport keeps them (RFC 9000 §9, RFC 9002 §5, §7).
    public init(snapshot: PathSnapshot) {
        self.init(
            rtt: snapshot.smoothedRTT,
            minRTT: snapshot.minRTT,
            congestionWindow: snapshot.congestionWindow,
            bytesSent: snapshot.bytesSent,
            bytesReceived: snapshot.bytesReceived,
            datagramsSent: snapshot.datagramsSent,
            datagramsReceived: snapshot.datagramsReceived,
            lostPackets: snapshot.packetsLost,
            mtu: snapshot.mtu
        )
    }
}

/// Whether a path reaches the peer directly or through a relay (docs/relay.md §4).
public enum PathKind: Sendable, Hashable, CustomStringConvertible {
    /// UDP straight to the peer's address.
    case direct
    /// Through the relay with this id: the relay forwards the connection's (encrypted) packets.
    case relayed(relay: EndpointID)

    /// Whether the path goes through a relay.
    public var isRelayed: Bool {
        if case .relayed = self { return true }
        return false
    }

    /// `direct` or `relayed via <relay id prefix>`.
    public var description: String {
        switch self {
        case .direct: "direct"
        case .relayed(let relay): "relayed via \(relay.shortDescription)"
        }
    }
}

/// A snapshot of one path of a connection.
public struct PathInfo: Sendable, Hashable {
    /// The path's id within its connection.
    public var id: PathID
    /// The local address packets on this path leave from.
    public var localAddress: HostPort
    /// The peer's address on this path; for a relayed path, the relay's address (the peer's own address is not
    /// known, which is the point of a relay).
    public var remoteAddress: HostPort
    /// Whether this is the path the connection currently sends on (RFC 9000 §9.3).
    public var isSelected: Bool
    /// The path's counters at the time of the snapshot.
    public var stats: PathStats
    /// Direct, or relayed through which relay.
    public var kind: PathKind

    /// Creates a path snapshot.
    public init(
        id: PathID, localAddress: HostPort, remoteAddress: HostPort, isSelected: Bool, stats: PathStats,
        kind: PathKind = .direct
    ) {
        self.id = id
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.isSelected = isSelected
        self.stats = stats
        self.kind = kind
    }

    /// A hook's view of a transport path; `socketAddress` stands in when the path does not know its local
    /// address (it sends from the endpoint's socket).
    public init(snapshot: PathSnapshot, socketAddress: HostPort) {
        self.init(
            id: PathID(rawValue: snapshot.id),
            localAddress: snapshot.localAddress?.hostPort ?? socketAddress,
            remoteAddress: snapshot.remoteAddress.hostPort,
            isSelected: snapshot.isSelected,
            stats: PathStats(snapshot: snapshot)
        )
    }
}

/// Something that happened to a connection's paths (RFC 9000 §9).
public enum PathEvent: Sendable, Hashable {
    /// A path was opened (the handshake path, or a new one after migration).
    case opened(PathInfo)
    /// The connection now sends on this path.
    case selected(PathInfo)
    /// A path was abandoned; its counters at the end.
    case closed(PathID, lastStats: PathStats)
    /// The consumer fell behind and this many events were dropped before the ones that follow.
    case lagged(missed: Int)
    /// The dialing side of a relayed connection finished a hole-punching round (docs/nat-traversal.md): it moved
    /// to a direct path, or every probe failed and the connection stays relayed for now.
    case punchRoundEnded(PunchRound)
}

/// How one hole-punching round ended (draft-seemann-quic-nat-traversal-02 §4.4; docs/nat-traversal.md).
public struct PunchRound: Sendable, Hashable {
    /// The round's number within the connection, from 1.
    public var number: UInt64
    /// What the round found.
    public var outcome: Outcome

    /// What a punching round found.
    public enum Outcome: Sendable, Hashable {
        /// This path validated and the connection now sends on it.
        case direct(PathID)
        /// No candidate answered.
        case failed
    }

    /// Creates a round result.
    public init(number: UInt64, outcome: Outcome) {
        self.number = number
        self.outcome = outcome
    }
}

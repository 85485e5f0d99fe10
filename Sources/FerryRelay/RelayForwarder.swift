import Ferry
import FerryCrypto
import FerryDaemon
import Logging

/// Who is connected where, and the forwarding decision for every packet (docs/relay.md §4, §5).
///
/// Shared by every client session, TCP or QUIC, and by the mesh links; its maps are behind locks that are held
/// only for a lookup, never across an `await`. Bounded: at most `maximumClients` clients, and the mesh directory
/// holds at most `maximumDirectoryEntries` remote ids.
final class RelayForwarder: Sendable {
    let relayID: EndpointID
    let limits: RelayConfig.Limits
    let metrics: RelayMetrics
    let logger: Logger
    /// Local clients by id. A new connection from an id replaces the old one.
    private let clients = Locked([EndpointID: any RelayOutlet]())
    /// Ids connected to other relays of the mesh → that relay's id.
    private let directory = Locked([EndpointID: EndpointID]())
    /// Outgoing mesh links by relay id: where packets for ids in `directory` go.
    private let meshOutlets = Locked([EndpointID: any RelayOutlet]())
    /// Per-client counters for the control socket.
    private let counters = Locked([EndpointID: ClientCounters]())
    /// Drops by reason, for the control socket.
    private let drops = Locked([RelayDropReason: UInt64]())
    private let forwardedTotals = Locked((packets: UInt64(0), bytes: UInt64(0)))

    struct ClientCounters: Sendable {
        var transport: RelayTransportKind
        var since: ContinuousClock.Instant
        var packetsIn: UInt64 = 0
        var packetsOut: UInt64 = 0
    }

    var maximumDirectoryEntries: Int { max(limits.maximumClients, 1) * 16 }

    init(relayID: EndpointID, limits: RelayConfig.Limits, metrics: RelayMetrics, logger: Logger) {
        self.relayID = relayID
        self.limits = limits
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: Clients

    /// Registers a client; false when the relay is full. A previous connection with the same id is closed.
    func register(_ outlet: any RelayOutlet) -> Bool {
        let (accepted, replaced) = clients.withLock { clients -> (Bool, (any RelayOutlet)?) in
            let previous = clients[outlet.peerID]
            guard previous != nil || clients.count < limits.maximumClients else { return (false, nil) }
            clients[outlet.peerID] = outlet
            return (true, previous)
        }
        guard accepted else { return false }
        replaced?.close(code: RelayCloseCode.replaced, reason: "replaced by a newer connection from the same id")
        counters.withLock { $0[outlet.peerID] = ClientCounters(transport: outlet.transport, since: .now) }
        publishClientGauges()
        announce(.peersPresent([outlet.peerID]))
        return true
    }

    /// Removes a client, unless a newer connection already replaced it.
    func unregister(_ outlet: any RelayOutlet) {
        let removed = clients.withLock { clients -> Bool in
            guard let current = clients[outlet.peerID], current === outlet else { return false }
            clients.removeValue(forKey: outlet.peerID)
            return true
        }
        guard removed else { return }
        counters.withLock { _ = $0.removeValue(forKey: outlet.peerID) }
        publishClientGauges()
        announce(.peersAbsent([outlet.peerID]))
    }

    var clientCount: Int { clients.withLock { $0.count } }

    /// Clients by transport.
    func clientCounts() -> [RelayTransportKind: Int] {
        clients.withLock { clients in
            var counts: [RelayTransportKind: Int] = [.udp: 0, .tcp: 0]
            for outlet in clients.values { counts[outlet.transport, default: 0] += 1 }
            return counts
        }
    }

    func clientSnapshot() -> [(EndpointID, ClientCounters)] {
        counters.withLock { $0.map { ($0.key, $0.value) } }.sorted { $0.0 < $1.0 }
    }

    func dropCounts() -> [RelayDropReason: UInt64] { drops.withLock { $0 } }
    func forwarded() -> (packets: UInt64, bytes: UInt64) { forwardedTotals.withLock { $0 } }

    private func publishClientGauges() {
        let counts = clientCounts()
        metrics.clients(counts[.udp] ?? 0, transport: "udp")
        metrics.clients(counts[.tcp] ?? 0, transport: "tcp")
    }

    // MARK: Forwarding

    /// The outlet of a client linked over QUIC, for the fast path (RelayFastPath.swift).
    func quicOutlet(for destination: EndpointID) -> QUICRelayOutlet? {
        clients.withLock { $0[destination] } as? QUICRelayOutlet
    }

    /// Counts a packet a client sent.
    func countIncoming(from source: EndpointID) {
        counters.withLock { $0[source]?.packetsIn &+= 1 }
    }

    /// Forwards a packet a client sent: to a local client, through the mesh, or answers "not here".
    func forward(from source: any RelayOutlet, to destination: EndpointID, packet: ArraySlice<UInt8>) async {
        countIncoming(from: source.peerID)
        if let outlet = clients.withLock({ $0[destination] }) {
            let message = RelayMessage.receivePacket(source: source.peerID, packet: packet).encoded
            record(await outlet.offer(message, packetSize: packet.count), bytes: packet.count, to: destination, viaMesh: false)
            return
        }
        if let relay = directory.withLock({ $0[destination] }), let outlet = meshOutlets.withLock({ $0[relay] }) {
            let message = RelayMessage.meshForward(source: source.peerID, destination: destination, packet: packet).encoded
            record(await outlet.offer(message, packetSize: packet.count), bytes: packet.count, to: nil, viaMesh: true)
            return
        }
        drop(.notConnected)
        _ = source.offerControl(RelayMessage.peerUnreachable(peer: destination, reason: .notConnected).encoded)
    }

    /// Delivers a packet a mesh relay forwarded from one of its clients to a local client (one hop only).
    func deliverFromMesh(source: EndpointID, destination: EndpointID, packet: ArraySlice<UInt8>) async {
        guard let outlet = clients.withLock({ $0[destination] }) else { return drop(.notConnected) }
        let message = RelayMessage.receivePacket(source: source, packet: packet).encoded
        record(await outlet.offer(message, packetSize: packet.count), bytes: packet.count, to: destination, viaMesh: true)
    }

    func drop(_ reason: RelayDropReason) {
        drops.withLock { $0[reason, default: 0] &+= 1 }
        metrics.dropped(reason)
    }

    func record(_ result: RelayOfferResult, bytes: Int, to destination: EndpointID?, viaMesh: Bool) {
        switch result {
        case .sent:
            forwardedTotals.withLock { $0.packets &+= 1; $0.bytes &+= UInt64(bytes) }
            if let destination { counters.withLock { $0[destination]?.packetsOut &+= 1 } }
            metrics.forwarded(bytes: bytes, viaMesh: viaMesh)
        case .queueFull: drop(.queueFull)
        case .tooLarge: drop(.tooLarge)
        case .closed: drop(.closed)
        }
    }

    // MARK: Mesh

    /// An outgoing mesh link came up: announce every local client over it.
    func meshLinkUp(_ outlet: any RelayOutlet) {
        meshOutlets.withLock { $0[outlet.peerID] = outlet }
        metrics.meshPeers(meshOutlets.withLock { $0.count })
        let ids = clients.withLock { Array($0.keys) }
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + RelayMessage.maximumPeersPerMessage)])
            _ = outlet.offerControl(RelayMessage.peersPresent(chunk).encoded)
            start += chunk.count
        }
    }

    func meshLinkDown(_ outlet: any RelayOutlet) {
        meshOutlets.withLock { outlets in
            if let current = outlets[outlet.peerID], current === outlet { outlets.removeValue(forKey: outlet.peerID) }
        }
        metrics.meshPeers(meshOutlets.withLock { $0.count })
    }

    /// A mesh relay's incoming link says these ids are (or are no longer) connected to it.
    func meshPeers(_ ids: [EndpointID], present: Bool, at relay: EndpointID) {
        directory.withLock { directory in
            for id in ids {
                if present {
                    guard directory[id] != nil || directory.count < maximumDirectoryEntries else { continue }
                    directory[id] = relay
                } else if directory[id] == relay {
                    directory.removeValue(forKey: id)
                }
            }
        }
    }

    /// A mesh relay's incoming link closed: forget what it announced.
    func meshRelayGone(_ relay: EndpointID) {
        directory.withLock { directory in
            for (id, owner) in directory where owner == relay { directory.removeValue(forKey: id) }
        }
    }

    var meshLinkedRelays: Set<EndpointID> { meshOutlets.withLock { Set($0.keys) } }
    var directoryCount: Int { directory.withLock { $0.count } }

    /// Sends a presence change to every mesh link, in order (a full link drops it, and the snapshot sent after
    /// a reconnect repairs the directory).
    private func announce(_ message: RelayMessage) {
        let outlets = meshOutlets.withLock { Array($0.values) }
        guard !outlets.isEmpty else { return }
        let bytes = message.encoded
        for outlet in outlets { _ = outlet.offerControl(bytes) }
    }
}

import Foundation

/// `ferry status --socket PATH` against a relay: what the relay is, who is connected, what it forwarded.
public struct RelayControlStatus: Codable, Sendable, Equatable {
    /// Always `relay`, so `ferry status` can tell a relay's answer from ferryd's.
    public var kind: String
    public var endpointID: String
    public var listen: [String]
    public var tcpListen: [String]
    public var pid: Int32
    public var uptimeSeconds: Double
    public var access: String
    /// Clients by transport (`udp`, `tcp`).
    public var clients: [String: Int]
    public var maximumClients: Int
    /// Configured mesh relays and whether the outgoing link to each is up.
    public var mesh: [MeshPeer]
    /// Remote ids the mesh announced.
    public var meshDirectory: Int
    public var packetsForwarded: UInt64
    public var bytesForwarded: UInt64
    /// Drops by reason.
    public var drops: [String: UInt64]

    public struct MeshPeer: Codable, Sendable, Equatable {
        public var relay: String
        public var linked: Bool

        public init(relay: String, linked: Bool) {
            self.relay = relay
            self.linked = linked
        }
    }

    public init(
        endpointID: String, listen: [String], tcpListen: [String], pid: Int32, uptimeSeconds: Double, access: String,
        clients: [String: Int], maximumClients: Int, mesh: [MeshPeer], meshDirectory: Int, packetsForwarded: UInt64,
        bytesForwarded: UInt64, drops: [String: UInt64]
    ) {
        self.kind = "relay"
        self.endpointID = endpointID
        self.listen = listen
        self.tcpListen = tcpListen
        self.pid = pid
        self.uptimeSeconds = uptimeSeconds
        self.access = access
        self.clients = clients
        self.maximumClients = maximumClients
        self.mesh = mesh
        self.meshDirectory = meshDirectory
        self.packetsForwarded = packetsForwarded
        self.bytesForwarded = bytesForwarded
        self.drops = drops
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case endpointID = "endpoint_id"
        case listen
        case tcpListen = "tcp_listen"
        case pid
        case uptimeSeconds = "uptime_seconds"
        case access, clients
        case maximumClients = "max_clients"
        case mesh
        case meshDirectory = "mesh_directory"
        case packetsForwarded = "packets_forwarded"
        case bytesForwarded = "bytes_forwarded"
        case drops
    }
}

/// `ferry connections --socket PATH` against a relay: one entry per client.
public struct RelayControlClient: Codable, Sendable, Equatable {
    public var endpointID: String
    public var transport: String
    public var connectedSeconds: Double
    public var packetsIn: UInt64
    public var packetsOut: UInt64

    public init(endpointID: String, transport: String, connectedSeconds: Double, packetsIn: UInt64, packetsOut: UInt64) {
        self.endpointID = endpointID
        self.transport = transport
        self.connectedSeconds = connectedSeconds
        self.packetsIn = packetsIn
        self.packetsOut = packetsOut
    }

    enum CodingKeys: String, CodingKey {
        case endpointID = "endpoint_id"
        case transport
        case connectedSeconds = "connected_seconds"
        case packetsIn = "packets_in"
        case packetsOut = "packets_out"
    }
}


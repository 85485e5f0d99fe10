import Foundation

/// The control socket's protocol: one JSON object per line in each direction (docs/daemon.md).
///
/// A request names a command; the answer is `{"ok":true,"result":{…}}` or `{"ok":false,"error":"…"}`. Several
/// requests may be sent on one connection; answers come in order.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// What to do; a string literal names it (`ControlRequest(command: "status")`).
    public var command: ControlCommand
    /// For `check-config`: the file to check (default: the running configuration's file).
    public var path: String?

    /// Creates a request.
    public init(command: ControlCommand, path: String? = nil) {
        self.command = command
        self.path = path
    }
}

/// A control-socket command (docs/daemon.md, docs/relay.md §8.2).
public enum ControlCommand: WireEnum {
    /// ferryd and ferry-relay: what the daemon is and runs.
    case status
    /// ferryd: live connections; ferry-relay: its clients (also `clients`).
    case connections
    /// ferry-relay: its clients.
    case clients
    /// ferryd: per-remote summaries.
    case remotes
    /// ferryd: reload the configuration.
    case reload
    /// Check a configuration file.
    case checkConfig
    /// Anything else: answered with "unknown command".
    case other(String)

    public init(wireValue: String) {
        switch wireValue {
        case "status": self = .status
        case "connections": self = .connections
        case "clients": self = .clients
        case "remotes": self = .remotes
        case "reload": self = .reload
        case "check-config": self = .checkConfig
        default: self = .other(wireValue)
        }
    }

    public var wireValue: String {
        switch self {
        case .status: "status"
        case .connections: "connections"
        case .clients: "clients"
        case .remotes: "remotes"
        case .reload: "reload"
        case .checkConfig: "check-config"
        case .other(let value): value
        }
    }
}

/// `status`: what the daemon is and runs.
public struct ControlStatus: Codable, Sendable, Equatable {
    public var endpointID: String
    public var listen: [String]
    public var pid: Int32
    public var uptimeSeconds: Double
    public var connections: Int
    public var services: [String]
    public var tunnels: [String]
    public var hooks: [String]
    public var configFile: String
    public var lastReload: ControlReload?
    /// The bound Prometheus listener (`ip:port`), when metrics are enabled.
    public var metrics: String? = nil
    /// The relay links (docs/relay.md), when relays are configured.
    public var relays: [ControlRelay]? = nil
    /// Public addresses relays observed for this endpoint (QUIC address discovery).
    public var observedAddresses: [String]? = nil
    /// The path mode (`auto`, `relay-only`, `direct-only`).
    public var pathMode: String? = nil

    enum CodingKeys: String, CodingKey {
        case endpointID = "endpoint_id"
        case listen, pid, metrics, relays
        case observedAddresses = "observed_addresses"
        case pathMode = "path_mode"
        case uptimeSeconds = "uptime_seconds"
        case connections, services, tunnels, hooks
        case configFile = "config_file"
        case lastReload = "last_reload"
    }
}

/// The result of a reload (also in `status` as the last one).
public struct ControlReload: Codable, Sendable, Equatable {
    /// Whether the new configuration is in force.
    public var ok: Bool
    /// Why not, with file, line and key.
    public var error: String?
    /// Connections closed because the new policy rejects them (`reevaluate_on_reload`).
    public var closedConnections: Int
    /// Settings that changed but only take effect after a restart.
    public var needsRestart: [String]
    /// When the reload happened (RFC 3339).
    public var time: String

    enum CodingKeys: String, CodingKey {
        case ok, error, time
        case closedConnections = "closed_connections"
        case needsRestart = "needs_restart"
    }
}

/// One relay link in `status`.
public struct ControlRelay: Codable, Sendable, Equatable {
    /// `ID@host:port`.
    public var relay: String
    /// `udp` or `tcp`.
    public var transport: String
    public var ready: Bool
    public var home: Bool
    public var rttMilliseconds: Double?
    public var packetsSent: UInt64
    public var packetsReceived: UInt64
    public var packetsDropped: UInt64
    /// This endpoint's address as the relay sees it.
    public var observedAddress: String?

    enum CodingKeys: String, CodingKey {
        case relay, transport, ready, home
        case rttMilliseconds = "rtt_ms"
        case packetsSent = "packets_sent"
        case packetsReceived = "packets_received"
        case packetsDropped = "packets_dropped"
        case observedAddress = "observed_address"
    }
}

/// `connections`: one live connection.
public struct ControlConnection: Codable, Sendable, Equatable {
    public var number: UInt64
    public var remoteID: String
    public var remoteAddress: String
    public var alpn: String
    public var service: String?
    public var side: String
    public var since: String
    public var rttMilliseconds: Double
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    /// The selected path's kind: `direct` or `relayed via <relay>`.
    public var path: String? = nil
    /// For a connection that started relayed: milliseconds until it moved to a punched direct path.
    public var directAfterMilliseconds: Double? = nil

    enum CodingKeys: String, CodingKey {
        case number
        case remoteID = "remote_id"
        case remoteAddress = "remote_address"
        case alpn, service, side, since, path
        case directAfterMilliseconds = "direct_after_ms"
        case rttMilliseconds = "rtt_ms"
        case bytesSent = "bytes_sent"
        case bytesReceived = "bytes_received"
    }
}

/// `remotes`: one remote endpoint id, aggregated over its connections.
public struct ControlRemote: Codable, Sendable, Equatable {
    public var remoteID: String
    public var connections: Int
    public var totalConnections: UInt64
    /// The smallest smoothed RTT over its live connections; nil with none.
    public var rttMilliseconds: Double?
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    public var pathsSeen: [String]
    public var lastSeen: String
    /// The selected path's kind on its live connections (`direct`, `relayed via …`); nil with none live.
    public var path: String? = nil

    enum CodingKeys: String, CodingKey {
        case remoteID = "remote_id"
        case path
        case connections
        case totalConnections = "total_connections"
        case rttMilliseconds = "rtt_ms"
        case bytesSent = "bytes_sent"
        case bytesReceived = "bytes_received"
        case pathsSeen = "paths_seen"
        case lastSeen = "last_seen"
    }
}

/// `check-config`.
public struct ControlCheck: Codable, Sendable, Equatable {
    public var ok: Bool
    public var message: String

    /// Creates a check result.
    public init(ok: Bool, message: String) {
        self.ok = ok
        self.message = message
    }
}

/// One answer line.
public struct ControlResponse<Result: Codable & Sendable>: Codable, Sendable {
    public var ok: Bool
    public var result: Result?
    public var error: String?
}

/// Why a control request failed on the client side.
public enum ControlClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The socket could not be reached.
    case cannotConnect(path: String, errno: Int32)
    /// The daemon closed the connection without answering.
    case noAnswer
    /// The answer was not the expected JSON.
    case malformedAnswer(String)
    /// The daemon answered with an error.
    case daemon(String)

    public var description: String {
        switch self {
        case .cannotConnect(let path, let errno): "cannot connect to \(path): \(String(cString: strerror(errno)))"
        case .noAnswer: "the daemon closed the connection without answering"
        case .malformedAnswer(let text): "malformed answer: \(text)"
        case .daemon(let message): message
        }
    }
}

enum ControlTime {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

import Ferry
import FerryCrypto
import FerryDaemon
import Foundation
import Logging

/// A validated ferry-relay configuration (docs/relay.md §8 documents every key).
///
/// Read with the same TOML reader as ferryd, so every error names the file, line and key, and the same
/// `[control]`, `[metrics]`, `[logging]` and `[[hooks]]` sections mean the same thing.
public struct RelayConfig: Sendable, Equatable {
    /// The file the configuration was read from.
    public var file: String
    /// The relay's Ed25519 key (created with mode 0600 when missing).
    public var keyFile: String
    /// Addresses served: QUIC on UDP, and TLS on TCP at the same address unless `tcpListen` is given.
    public var listen: [HostPort]
    /// TCP addresses for the TLS fallback; nil means the `listen` addresses.
    public var tcpListen: [HostPort]?
    /// Other relays of the mesh, `ID@host:port`; each must list this relay too.
    public var mesh: [RelayAddress]
    /// Who may use the relay.
    public var access: Access
    /// Per-client limits.
    public var limits: Limits
    /// How long one policy hook may take.
    public var hookTimeout: Duration
    /// The control socket (`ferry status --socket PATH`).
    public var control: DaemonConfig.ControlSettings
    /// The Prometheus listener.
    public var metrics: DaemonConfig.MetricsSettings?
    /// Log output.
    public var logging: DaemonConfig.LoggingSettings
    /// Policy hooks run against relay clients (the same `[[hooks]]` types as ferryd).
    public var hooks: [DaemonConfig.HookSettings]

    /// Who may connect (docs/relay.md §6).
    public enum Access: Sendable, Equatable {
        /// Any endpoint.
        case everyone
        /// Only these ids (run as an `allow-endpoints` hook ahead of `[[hooks]]`).
        case allowlist(Set<EndpointID>)
        /// Any endpoint but these ids (a `deny-endpoints` hook).
        case denylist(Set<EndpointID>)
        /// Endpoints that present this token in their hello.
        case token(String)

        /// The name in the configuration.
        public var name: String {
            switch self {
            case .everyone: "everyone"
            case .allowlist: "allowlist"
            case .denylist: "denylist"
            case .token: "token"
            }
        }
    }

    /// Per-client bounds; every queue the relay keeps is bounded by one of these.
    public struct Limits: Sendable, Equatable {
        /// Clients connected at once (mesh peers are not counted).
        public var maximumClients: Int
        /// Sustained bytes per second one client may send through the relay.
        public var bytesPerSecond: Int
        /// The burst above that rate (token bucket depth), in bytes.
        public var burstBytes: Int
        /// Messages queued towards one client on its relay stream or TCP connection before new ones are dropped.
        public var queuePackets: Int
        /// How long a new client has to say hello.
        public var helloTimeout: Duration

        /// The defaults: 10,000 clients, 8 MiB/s with a 2 MiB burst, 512 queued messages, 10 s hello.
        public init(
            maximumClients: Int = 10_000, bytesPerSecond: Int = 8 << 20, burstBytes: Int = 2 << 20,
            queuePackets: Int = 512, helloTimeout: Duration = .seconds(10)
        ) {
            self.maximumClients = maximumClients
            self.bytesPerSecond = bytesPerSecond
            self.burstBytes = burstBytes
            self.queuePackets = queuePackets
            self.helloTimeout = helloTimeout
        }
    }

    /// Reads and validates the file at `path`; relative paths resolve against its directory (or systemd's
    /// `$STATE_DIRECTORY` / `$RUNTIME_DIRECTORY` for the key and the control socket).
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> RelayConfig {
        let (text, directory) = try readConfigFile(path)
        return try parse(text, file: path, directory: directory, environment: environment)
    }

    /// Validates configuration text.
    public static func parse(
        _ text: String, file: String, directory: String, environment: [String: String] = [:]
    ) throws(ConfigError) -> RelayConfig {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(file: file, line: error.line, key: nil, problem: .syntax(error.problem))
        }
        let reader = ConfigReader(table: root, file: file, directory: directory)
        try reader.requireOnly(["relay", "control", "metrics", "logging", "hooks"])
        let stateDirectory = environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
        let runtimeDirectory = environment["RUNTIME_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) }
        guard let relay = try reader.subtable("relay") else {
            throw reader.error("relay", line: 1, .missingKey)
        }
        try relay.requireOnly([
            "key_file", "listen", "tcp_listen", "mesh", "access", "allow", "deny", "token", "max_clients",
            "rate", "burst", "queue_packets", "hello_timeout", "hook_timeout",
        ])
        let keyFile = try relay.string("key_file") ?? "relay.key"
        guard !keyFile.isEmpty else { throw relay.error("key_file", .invalidValue(keyFile, reason: "empty path")) }
        var listen: [HostPort] = []
        for (text, line) in try relay.strings("listen") ?? [] {
            listen.append(try relay.socketAddress(text, key: "listen", line: line))
        }
        guard !listen.isEmpty else {
            throw relay.error("listen", .invalidValue("[]", reason: "at least one address is needed"))
        }
        var tcpListen: [HostPort]?
        if let entries = try relay.strings("tcp_listen") {
            tcpListen = []
            for (text, line) in entries { tcpListen?.append(try relay.socketAddress(text, key: "tcp_listen", line: line)) }
        }
        var mesh: [RelayAddress] = []
        for (text, line) in try relay.strings("mesh") ?? [] {
            do throws(EndpointAddressError) {
                mesh.append(try RelayAddress(parsing: text))
            } catch {
                throw relay.error("mesh", line: line, .invalidPeer(text, reason: error.description))
            }
        }
        let access = try parseAccess(relay)
        let limits = Limits(
            maximumClients: try relay.integer("max_clients", range: 1...10_000_000) ?? 10_000,
            bytesPerSecond: try relay.integer("rate", range: 1024...(1 << 40)) ?? (8 << 20),
            burstBytes: try relay.integer("burst", range: 2048...(1 << 40)) ?? (2 << 20),
            queuePackets: try relay.integer("queue_packets", range: 1...1_000_000) ?? 512,
            helloTimeout: try relay.duration("hello_timeout") ?? .seconds(10)
        )
        let hookTimeout = try relay.duration("hook_timeout") ?? .seconds(5)
        var hooks: [DaemonConfig.HookSettings] = []
        for (offset, hook) in try reader.tableArray("hooks").enumerated() {
            hooks.append(try DaemonConfig.parseHook(hook, position: offset + 1, services: [], defaultTimeout: hookTimeout))
        }
        return RelayConfig(
            file: file,
            keyFile: ConfigReader.resolve(keyFile, directory: stateDirectory ?? directory),
            listen: listen,
            tcpListen: tcpListen,
            mesh: mesh,
            access: access,
            limits: limits,
            hookTimeout: hookTimeout,
            control: try DaemonConfig.parseControl(
                try reader.subtable("control"),
                reader: ConfigReader(table: root, file: file, directory: runtimeDirectory ?? directory),
                defaultSocket: "ferry-relay.sock"),
            metrics: try DaemonConfig.parseMetrics(try reader.subtable("metrics")),
            logging: try DaemonConfig.parseLogging(try reader.subtable("logging")),
            hooks: hooks
        )
    }

    private static func parseAccess(_ relay: ConfigReader) throws(ConfigError) -> Access {
        let name = try relay.string("access") ?? "everyone"
        let ids: (String) throws(ConfigError) -> Set<EndpointID> = { key throws(ConfigError) in
            guard let entries = try relay.strings(key) else { throw relay.error(key, .missingKey) }
            var ids: Set<EndpointID> = []
            for (text, line) in entries {
                guard let id = EndpointID(hex: text) else { throw relay.error(key, line: line, .invalidEndpointID(text)) }
                ids.insert(id)
            }
            return ids
        }
        switch name {
        case "everyone":
            return .everyone
        case "allowlist":
            return .allowlist(try ids("allow"))
        case "denylist":
            return .denylist(try ids("deny"))
        case "token":
            guard let token = try relay.string("token") else { throw relay.error("token", .missingKey) }
            guard !token.isEmpty, token.utf8.count <= 255 else {
                throw relay.error("token", .invalidValue("…", reason: "a token is 1 to 255 bytes"))
            }
            return .token(token)
        default:
            throw relay.error("access", .invalidChoice(name, allowed: ["everyone", "allowlist", "denylist", "token"]))
        }
    }
}

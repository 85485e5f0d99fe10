import Ferry
import Logging

/// A validated ferryd configuration (docs/config.md documents every key).
///
/// Produced only by `DaemonConfig.load(path:)` / `parse(_:file:directory:)`, which check every value and report
/// the first problem with its file, line and key. Relative paths are already resolved against the directory of
/// the configuration file.
public struct DaemonConfig: Sendable, Equatable {
    /// The file the configuration was read from, as named to ferryd.
    public var file: String
    /// The `[endpoint]` section.
    public var endpoint: EndpointSettings
    /// The `[control]` section.
    public var control: ControlSettings
    /// The `[metrics]` section; nil disables the metrics listener.
    public var metrics: MetricsSettings?
    /// The `[logging]` section.
    public var logging: LoggingSettings
    /// The `[[services]]` exposed to peers, in file order.
    public var services: [ServiceSettings]
    /// The `[[tunnels]]` reaching peers' services, in file order.
    public var tunnels: [TunnelSettings]
    /// The `[[hooks]]` chain, in file order (the first rejection wins).
    public var hooks: [HookSettings]

    /// The QUIC identity, the UDP sockets and the hook deadline.
    public struct EndpointSettings: Sendable, Equatable {
        /// The PKCS#8 Ed25519 key file (created with mode 0600 if missing).
        public var keyFile: String
        /// The UDP addresses to bind (IP literals).
        public var listen: [HostPort]
        /// How long one hook call may take before it counts as a rejection.
        public var hookTimeout: Duration
        /// Whether a reload re-checks established connections against the new hook chain.
        public var reevaluateOnReload: Bool
        /// How long a graceful shutdown may take before connections are dropped.
        public var shutdownTimeout: Duration
        /// Relays the first endpoint keeps links to, so peers reach it by id alone (docs/relay.md).
        public var relays: [RelayAddress] = []
        /// Which kinds of path connections may use.
        public var pathMode: PathMode = .auto
        /// The token for relays whose access is `token`.
        public var relayToken: String = ""
    }

    /// The control socket.
    public struct ControlSettings: Sendable, Equatable {
        /// The Unix stream socket path (mode 0600); nil disables the control socket.
        public var socket: String?
    }

    /// The Prometheus listener.
    public struct MetricsSettings: Sendable, Equatable {
        /// The TCP address serving `GET /metrics`.
        public var listen: HostPort
    }

    /// Log output.
    public struct LoggingSettings: Sendable, Equatable {
        /// Line format on stderr.
        public var format: LogFormat
        /// The minimum level logged.
        public var level: Logger.Level
    }

    /// One exposed service.
    public struct ServiceSettings: Sendable, Equatable {
        /// The service name; peers reach it on ALPN `ferry/tcp/<name>`.
        public var name: String
        /// What each incoming stream is connected to.
        public var kind: ServiceKind
        /// The line of the `[[services]]` header.
        public var line: Int

        /// The ALPN the service is offered on.
        public var alpn: String { ServiceSettings.alpn(for: name) }

        /// `ferry/tcp/<name>`.
        public static func alpn(for name: String) -> String { "ferry/tcp/" + name }
    }

    /// How a service handles a stream.
    public enum ServiceKind: Sendable, Equatable {
        /// Each stream is joined to a new TCP connection to this address.
        case forward(HostPort)
        /// Each stream's bytes are written back to it (for smoke tests).
        case echo
    }

    /// One tunnel: a local TCP port whose connections become streams to a peer's service.
    public struct TunnelSettings: Sendable, Equatable {
        /// The local TCP address to accept on.
        public var listen: HostPort
        /// The peer to dial.
        public var peer: EndpointAddress
        /// The peer's service name.
        public var service: String
        /// The line of the `[[tunnels]]` header.
        public var line: Int
    }

    /// One hook of the chain.
    public struct HookSettings: Sendable, Equatable {
        /// The hook's name in logs and metrics (`name`, or `<type>-<position>`).
        public var name: String
        /// What the hook checks.
        public var kind: HookKind
        /// The services the hook applies to; nil means all.
        public var services: Set<String>?
        /// The line of the `[[hooks]]` header.
        public var line: Int

        /// Creates hook settings (ferry-relay adds its access list this way).
        public init(name: String, kind: HookKind, services: Set<String>?, line: Int) {
            self.name = name
            self.kind = kind
            self.services = services
            self.line = line
        }
    }

    /// The hook types of `[[hooks]] type = …`.
    public enum HookKind: Sendable, Equatable {
        /// Logs every decision point, accepts everything.
        case log(level: Logger.Level)
        /// Rejects connections whose remote id is not listed.
        case allowEndpoints(Set<EndpointID>)
        /// Rejects connections whose remote id is listed.
        case denyEndpoints(Set<EndpointID>)
        /// Refuses connection attempts from addresses outside these blocks (before the handshake).
        case allowIPs([CIDRBlock])
        /// Refuses connection attempts from addresses inside these blocks (before the handshake).
        case denyIPs([CIDRBlock])
        /// Refuses new connection attempts from a source IP beyond a token-bucket rate.
        case rateLimit(perSecond: Double, burst: Int)
        /// Rejects connections beyond a count per remote id and in total.
        case maxConnections(perEndpoint: Int?, total: Int?)
        /// Asks an external process (docs/plugins.md).
        case plugin(PluginSettings)

        /// The `type` string.
        public var typeName: String {
            switch self {
            case .log: "log"
            case .allowEndpoints: "allow-endpoints"
            case .denyEndpoints: "deny-endpoints"
            case .allowIPs: "allow-ips"
            case .denyIPs: "deny-ips"
            case .rateLimit: "rate-limit"
            case .maxConnections: "max-connections"
            case .plugin: "plugin"
            }
        }
    }

    /// A plugin hook's process and failure policy.
    public struct PluginSettings: Sendable, Equatable {
        /// The program and its arguments (the first element is resolved against the config directory when it
        /// contains a `/` and is relative).
        public var command: [String]
        /// How long one request may take.
        public var timeout: Duration
        /// What to answer while the plugin is down or fails a request.
        public var onError: PluginErrorPolicy
    }

    /// A plugin hook's answer when it cannot ask the plugin.
    public enum PluginErrorPolicy: String, Sendable, Equatable {
        /// Fail closed.
        case reject
        /// Fail open.
        case accept
    }
}

/// Log line format.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `key=value` pairs (https://brandur.org/logfmt).
    case logfmt
    /// One JSON object per line.
    case json
}

import Ferry
import Logging
import NIOCore
import NIOPosix

/// What the daemon's parts share: logging, metrics, the connection registry, the policy engine and the
/// endpoints.
final class DaemonContext: Sendable {
    let logger: Logger
    let metrics: DaemonMetrics
    let registry: ConnectionRegistry
    let engine: PolicyEngine
    let eventLoopGroup: any EventLoopGroup
    /// Whether the runtime runs the hook chain itself (`EndpointConfiguration.hooks`); when not, the daemon
    /// applies the policy to each accepted connection before serving it.
    let runtimeRunsHooks: Bool
    /// The shared log level, when the daemon owns its logger (reload can change it).
    let logLevelControl: LogLevelControl?
    private let endpointsBox = Locked([Endpoint]())
    /// The services in force by name; a reload replaces it in one assignment (`ServiceHandler` looks a service
    /// up per connection and per stream).
    private let servicesBox = Locked([String: DaemonConfig.ServiceSettings]())

    init(logger: Logger, metrics: DaemonMetrics, registry: ConnectionRegistry, engine: PolicyEngine, eventLoopGroup: any EventLoopGroup, runtimeRunsHooks: Bool, logLevelControl: LogLevelControl?) {
        self.logger = logger
        self.metrics = metrics
        self.registry = registry
        self.engine = engine
        self.eventLoopGroup = eventLoopGroup
        self.runtimeRunsHooks = runtimeRunsHooks
        self.logLevelControl = logLevelControl
    }

    /// The bound endpoints, one per `listen` address.
    var endpoints: [Endpoint] {
        get { endpointsBox.current }
        set { endpointsBox.withLock { $0 = newValue } }
    }

    /// The settings of the service `name`, or nil once a reload removed it.
    func service(named name: String) -> DaemonConfig.ServiceSettings? {
        servicesBox.withLock { $0[name] }
    }

    /// Installs the services in force.
    func installServices(_ services: [DaemonConfig.ServiceSettings]) {
        let table = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        servicesBox.withLock { $0 = table }
    }

    /// The endpoint tunnels dial from (the first one).
    var dialingEndpoint: Endpoint? { endpoints.first }

    /// Applies the policy to an accepted connection when the runtime has not; closes it with the policy code on
    /// rejection. Returns whether the connection may be served.
    func admit(_ connection: Connection) async -> Bool {
        guard !runtimeRunsHooks else { return true }
        let info = IncomingInfo(
            remoteAddress: connection.remoteAddress,
            localAddress: HostPort(host: "0.0.0.0", port: 0),
            isAddressValidated: true,
            alpns: [connection.alpn]
        )
        let subject = PolicySubject(
            remoteID: connection.remoteID,
            alpn: connection.alpn,
            side: connection.side,
            remoteAddress: connection.remoteAddress
        )
        let verdict = await engine.admit(subject, info: info)
        if case .reject(let reason) = verdict {
            connection.close(code: policyRejectionCode, reason: reason)
            return false
        }
        return true
    }
}

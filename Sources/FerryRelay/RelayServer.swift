import Ferry
import FerryCrypto
import FerryDaemon
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A Ferry relay: forwards QUIC packets between endpoints that can each reach it, by id (docs/relay.md).
///
/// Built from the pieces ferryd uses: a Ferry `Endpoint` per listen address (ALPN `ferry/relay/1`, mutual TLS,
/// so every client is authenticated by its key before it may send), the `[[hooks]]` policy chain run against
/// relay clients, the control socket and the Prometheus listener.
public final class RelayServer: Sendable {
    /// The relay's id (its Ed25519 public key); clients name the relay `ID@host:port`.
    public let id: EndpointID
    public let config: RelayConfig
    let endpoints: [Endpoint]
    let forwarder: RelayForwarder
    let logger: Logger
    let started = ContinuousClock.now
    private let state = Locked(State())

    struct State {
        var control: ControlServer?
        var metricsServer: MetricsServer?
        var tcpListeners: [RelayTCPListener] = []
        var tasks: [Task<Void, Never>] = []
        var isStopped = false
    }

    /// The bound UDP addresses (real ports when configured with port 0).
    public var localAddresses: [HostPort] { endpoints.map(\.localAddress) }
    /// The bound TCP addresses of the TLS fallback.
    public var tcpAddresses: [HostPort] { state.withLock { $0.tcpListeners.map(\.localAddress) } }
    /// The metrics listener's port, if enabled.
    public var metricsPort: Int? { state.withLock { $0.metricsServer?.port } }
    /// `ID@host:port` of the first listen address.
    public var address: RelayAddress? { localAddresses.first.map { RelayAddress(id: id, address: $0) } }

    private init(id: EndpointID, config: RelayConfig, endpoints: [Endpoint], forwarder: RelayForwarder, logger: Logger) {
        self.id = id
        self.config = config
        self.endpoints = endpoints
        self.forwarder = forwarder
        self.logger = logger
    }

    /// Binds everything the configuration names and starts serving.
    public static func start(
        config: RelayConfig,
        logger: Logger? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RelayServer {
        let logger = logger ?? Daemon.makeLogger(config.logging, label: "ferry-relay")
        let identity = try Daemon.loadOrCreateIdentity(config.keyFile, logger: logger)
        let metrics = RelayMetrics()
        let forwarder = RelayForwarder(relayID: identity.id, limits: config.limits, metrics: metrics, logger: logger)
        let hooks = makeHooks(config: config, metrics: metrics, logger: logger)
        var configuration = EndpointConfiguration(eventLoopGroup: eventLoopGroup, logger: logger)
        configuration.incomingConnectionQueueLimit = 1024
        // A relay connection carries one stream (the relay stream) and datagrams: small stream limits and windows
        // keep an idle client's state small (docs/relay.md §6; the benchmark holds 10,000 of them).
        configuration.transport.maxConcurrentBidirectionalStreams = 2
        configuration.transport.maxConcurrentUnidirectionalStreams = 0
        configuration.transport.initialMaxStreamData = 256 << 10
        configuration.transport.initialMaxData = 1 << 20
        var endpoints: [Endpoint] = []
        do {
            for address in config.listen {
                endpoints.append(try await Endpoint.bind(
                    host: address.host, port: Int(address.port), identity: identity, alpns: [RelayMessage.alpn],
                    configuration: configuration, hooks: hooks))
            }
        } catch {
            for endpoint in endpoints { await endpoint.close() }
            throw error
        }
        let server = RelayServer(id: identity.id, config: config, endpoints: endpoints, forwarder: forwarder, logger: logger)
        do {
            try await server.bindSideServices(identity: identity, eventLoopGroup: eventLoopGroup)
        } catch {
            await server.shutdown()
            throw error
        }
        server.startServing()
        logger.info("ferry-relay started", metadata: [
            "id": "\(identity.id)", "listen": "\(server.localAddresses.map(\.description))",
            "tcp": "\(server.tcpAddresses.map(\.description))", "mesh": "\(config.mesh.count)",
            "access": "\(config.access.name)",
        ])
        return server
    }

    /// The access list as policy hooks ahead of the configured `[[hooks]]`: an allowlist is an `allow-endpoints`
    /// hook (with the mesh relays added), a denylist a `deny-endpoints` hook (docs/relay.md §6).
    static func makeHooks(config: RelayConfig, metrics: RelayMetrics, logger: Logger) -> HookChain {
        var settings = config.hooks
        let meshIDs = Set(config.mesh.map(\.id))
        switch config.access {
        case .allowlist(let ids):
            settings.insert(.init(name: "access", kind: .allowEndpoints(ids.union(meshIDs)), services: nil, line: 0), at: 0)
        case .denylist(let ids):
            settings.insert(.init(name: "access", kind: .denyEndpoints(ids.subtracting(meshIDs)), services: nil, line: 0), at: 0)
        case .everyone, .token:
            break
        }
        guard !settings.isEmpty else { return HookChain() }
        let recorder = DecisionRecorder(logger: logger, metrics: metrics.daemon)
        let snapshot = PolicyEngine.makeSnapshot(
            hooks: settings, hookTimeout: config.hookTimeout, recorder: recorder, registry: ConnectionRegistry()
        ) { hook, plugin in
            let client = PluginClient(command: plugin.command, name: hook.name, timeout: plugin.timeout, logger: logger, metrics: metrics.daemon)
            client.start()
            return client
        }
        let engine = PolicyEngine(snapshot: snapshot, recorder: recorder)
        return HookChain([engine], deadline: .seconds(3600), failureErrorCode: RelayCloseCode.unauthorized)
    }

    private func bindSideServices(identity: EndpointIdentity, eventLoopGroup: any EventLoopGroup) async throws {
        // TCP on the same port number as each UDP socket, also when the configuration asked for port 0.
        let sameAsUDP = zip(config.listen, endpoints).map { configured, endpoint in
            HostPort(host: configured.host, port: configured.port == 0 ? endpoint.localAddress.port : configured.port)
        }
        for address in config.tcpListen ?? sameAsUDP {
            let listener = try await RelayTCPListener.bind(
                address: address, identity: identity, server: self, eventLoopGroup: eventLoopGroup)
            state.withLock { $0.tcpListeners.append(listener) }
        }
        if let socket = config.control.socket {
            let control = try await ControlServer.bind(path: socket, group: eventLoopGroup, logger: logger) { [weak self] request in
                guard let self else { return #"{"ok":false,"error":"shutting down"}"# }
                return self.handleControl(request)
            }
            state.withLock { $0.control = control }
        }
        if let metricsSettings = config.metrics {
            let metrics = forwarder.metrics
            let server = try await MetricsServer.bind(
                host: metricsSettings.listen.host, port: Int(metricsSettings.listen.port), group: eventLoopGroup,
                render: { metrics.render() })
            state.withLock { $0.metricsServer = server }
        }
    }

    /// Starts the accept loops, the mesh links, the TCP listeners and the side services.
    private func startServing() {
        let meshIDs = Set(config.mesh.map(\.id))
        var tasks: [Task<Void, Never>] = []
        for endpoint in endpoints {
            tasks.append(Task { [forwarder, config, logger] in
                await withDiscardingTaskGroup { group in
                    for await connection in endpoint.incomingConnections {
                        let session = RelaySession(
                            connection: connection, forwarder: forwarder, config: config, meshIDs: meshIDs, logger: logger)
                        group.addTask(executorPreference: endpoint.taskExecutor) { await session.run() }
                    }
                }
            })
        }
        if let endpoint = endpoints.first {
            for relay in config.mesh where relay.id != id {
                let link = RelayMeshLink(relay: relay, endpoint: endpoint, forwarder: forwarder, logger: logger)
                tasks.append(Task(executorPreference: endpoint.taskExecutor) { await link.run() })
            }
        }
        let (listeners, control, metricsServer) = state.withLock { ($0.tcpListeners, $0.control, $0.metricsServer) }
        for listener in listeners { tasks.append(Task { await listener.run() }) }
        if let control { tasks.append(Task { await control.run() }) }
        if let metricsServer { tasks.append(Task { await metricsServer.run() }) }
        state.withLock { $0.tasks = tasks }
    }

    /// Serves until SIGTERM or SIGINT (then shuts down); sends READY=1 to systemd first.
    public func run(notifier: SystemdNotifier = SystemdNotifier()) async throws {
        let serving = ClosureService { [self] in
            await withGracefulShutdownHandler {
                notifier.ready(status: "relaying on \(self.localAddresses.map(\.description).joined(separator: ", "))")
                await self.waitUntilStopped()
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        }
        let watchdog = ClosureService {
            guard let interval = notifier.watchdogInterval else { return }
            while !Task.isCancelled {
                notifier.watchdog()
                try? await Task.sleep(for: interval)
            }
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: watchdog, successTerminationBehavior: .ignore), .init(service: serving)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }

    private func waitUntilStopped() async {
        let tasks = state.withLock { $0.tasks }
        for task in tasks { await task.value }
    }

    /// Closes every client and listener; idempotent.
    public func shutdown() async {
        let (alreadyStopped, tasks, listeners, control, metricsServer) = state.withLock { state in
            defer { state.isStopped = true }
            return (state.isStopped, state.tasks, state.tcpListeners, state.control, state.metricsServer)
        }
        guard !alreadyStopped else { return }
        for task in tasks { task.cancel() }
        for listener in listeners { listener.close() }
        control?.close()
        metricsServer?.close()
        for endpoint in endpoints { await endpoint.close() }
        logger.info("ferry-relay stopped")
    }
}

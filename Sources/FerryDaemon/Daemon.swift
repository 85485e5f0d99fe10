import Ferry
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// A running ferryd: endpoints with services, tunnels, the policy engine, control socket and metrics.
///
/// `start` binds every socket and launches plugins, so a bad port or key fails before systemd hears `READY=1`;
/// `run` then serves under a swift-service-lifecycle `ServiceGroup` until SIGTERM/SIGINT, reloading on SIGHUP.
public final class Daemon: Sendable {
    let context: DaemonContext
    /// systemd notifications.
    public let notifier: SystemdNotifier
    /// The endpoint id.
    public let endpointID: EndpointID
    /// When the daemon started.
    public let startedAt: Date

    struct State {
        var config: DaemonConfig
        var routers: [Router] = []
        var tunnels: [TunnelListener] = []
        var dialers: [PeerDialer] = []
        var plugins: [String: PluginClient] = [:]
        var control: ControlServer?
        var metricsServer: MetricsServer?
        var lastReload: ControlReload?
        var isShuttingDown = false
        var isStopped = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let state: Locked<State>

    private init(context: DaemonContext, notifier: SystemdNotifier, endpointID: EndpointID, config: DaemonConfig) {
        self.context = context
        self.notifier = notifier
        self.endpointID = endpointID
        self.startedAt = Date()
        self.state = Locked(State(config: config))
    }

    /// The configuration in force.
    public var config: DaemonConfig { state.withLock { $0.config } }
    /// The logger.
    public var logger: Logger { context.logger }
    /// The metrics.
    public var metrics: DaemonMetrics { context.metrics }
    /// The live connections.
    public var registry: ConnectionRegistry { context.registry }
    /// The bound endpoints' addresses, in `listen` order.
    public var localAddresses: [HostPort] { context.endpoints.map(\.localAddress) }
    /// The tunnels' bound TCP ports, in configuration order.
    public var tunnelPorts: [Int] { state.withLock { $0.tunnels.compactMap(\.localPort) } }
    /// The metrics listener's port, if enabled.
    public var metricsPort: Int? { state.withLock { $0.metricsServer?.port } }

    /// A logger writing `format` lines to stderr at `level`.
    /// With `levelControl`, a reload that changes `[logging] level` takes effect at once.
    public static func makeLogger(
        _ settings: DaemonConfig.LoggingSettings,
        label: String = "ferryd",
        levelControl: LogLevelControl? = nil
    ) -> Logger {
        Logger(label: label) { label in
            DaemonLogHandler(label: label, format: settings.format, level: settings.level, levelControl: levelControl)
        }
    }

    // MARK: Start

    /// Binds everything the configuration describes. Nothing is served until `run()`.
    public static func start(
        config: DaemonConfig,
        logger: Logger? = nil,
        logLevelControl: LogLevelControl? = nil,
        notifier: SystemdNotifier = SystemdNotifier(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Daemon {
        var logLevelControl = logLevelControl
        if logger == nil, logLevelControl == nil { logLevelControl = LogLevelControl(config.logging.level) }
        let logger = logger ?? makeLogger(config.logging, levelControl: logLevelControl)
        let identity = try loadOrCreateIdentity(config.endpoint.keyFile, logger: logger)
        let metrics = DaemonMetrics()
        let registry = ConnectionRegistry()
        let recorder = DecisionRecorder(logger: logger, metrics: metrics)
        var plugins: [String: PluginClient] = [:]
        let snapshot = PolicyEngine.makeSnapshot(config: config, recorder: recorder, registry: registry) { hook, settings in
            let client = PluginClient(command: settings.command, name: hook.name, timeout: settings.timeout, logger: logger, metrics: metrics)
            plugins[pluginKey(hook.name, settings)] = client
            return client
        }
        let engine = PolicyEngine(snapshot: snapshot, recorder: recorder)
        let context = DaemonContext(
            logger: logger,
            metrics: metrics,
            registry: registry,
            engine: engine,
            eventLoopGroup: eventLoopGroup,
            runtimeRunsHooks: true,
            logLevelControl: logLevelControl
        )
        let daemon = Daemon(context: context, notifier: notifier, endpointID: identity.id, config: config)
        for client in plugins.values {
            client.start()
            _ = await client.waitUntilReady(limit: .seconds(2))
        }
        do {
            try await daemon.bindAll(identity: identity, plugins: plugins)
        } catch {
            await daemon.shutdown()
            throw error
        }
        logger.info(
            "ferryd started",
            metadata: [
                "id": "\(identity.id)", "listen": "\(daemon.localAddresses.map(\.description))",
                "services": "\(config.services.map(\.name))", "tunnels": "\(config.tunnels.count)", "hooks": "\(config.hooks.map(\.name))",
            ]
        )
        return daemon
    }

    private func bindAll(identity: EndpointIdentity, plugins: [String: PluginClient]) async throws {
        let config = self.config
        state.withLock { $0.plugins = plugins }
        context.installServices(config.services)
        var endpointConfiguration = EndpointConfiguration(logger: context.logger)
        endpointConfiguration.eventLoopGroup = context.eventLoopGroup
        // The runtime runs the engine as the endpoint's only hook: the incoming filter (allow-ips, deny-ips,
        // rate-limit, plugins) before any handshake work, `afterHandshake` (allow/deny-endpoints,
        // max-connections, plugins) before a service or tunnel sees the connection, and `beforeConnect` before
        // a tunnel dials. The engine swaps its own chain on reload and bounds each configured hook by
        // `hook_timeout`, so the outer deadline is only a backstop.
        let hooks = HookChain([context.engine], deadline: .seconds(3600), failureErrorCode: policyRejectionCode)
        var routers: [Router] = []
        for (index, address) in config.endpoint.listen.enumerated() {
            // Only the first endpoint links to relays: a relay knows one connection per id, so a second endpoint
            // with the same key would replace the first one's link. Tunnels dial from the first endpoint too.
            var endpointConfiguration = endpointConfiguration
            if index == 0 {
                endpointConfiguration.relays = config.endpoint.relays
                endpointConfiguration.pathMode = config.endpoint.pathMode
                endpointConfiguration.relayToken = config.endpoint.relayToken
            }
            // Accepting even with no services, so a reload can add the first one (`Router.addHandler`); until
            // then every handshake is refused in TLS (no_application_protocol).
            let endpoint = try await Endpoint.bind(
                host: address.host,
                port: Int(address.port),
                identity: identity,
                alpns: config.services.map(\.alpn),
                acceptsIncoming: true,
                configuration: endpointConfiguration,
                hooks: hooks
            )
            var handlers: [String: any ProtocolHandler] = [:]
            for service in config.services {
                handlers[service.alpn] = ServiceHandler(name: service.name, daemon: context)
            }
            routers.append(Router(endpoint: endpoint, handlers: handlers, logger: context.logger))
            context.endpoints = context.endpoints + [endpoint]
            state.withLock { $0.routers = routers }
        }
        var dialers: [String: PeerDialer] = [:]
        for tunnel in config.tunnels {
            let key = Self.dialerKey(peer: tunnel.peer, service: tunnel.service)
            let dialer = dialers[key] ?? PeerDialer(peer: tunnel.peer, service: tunnel.service, daemon: context)
            dialers[key] = dialer
            let listener = try await TunnelListener.bind(settings: tunnel, dialer: dialer, daemon: context)
            state.withLock { $0.tunnels.append(listener) }
        }
        state.withLock { $0.dialers = Array(dialers.values) }
        if let socket = config.control.socket {
            let control = try await ControlServer.bind(path: socket, group: context.eventLoopGroup, logger: context.logger) { [weak self] request in
                guard let self else { return #"{"ok":false,"error":"shutting down"}"# }
                return await self.handleControl(request)
            }
            state.withLock { $0.control = control }
        }
        if let metricsSettings = config.metrics {
            let metrics = context.metrics
            let server = try await MetricsServer.bind(
                host: metricsSettings.listen.host,
                port: Int(metricsSettings.listen.port),
                group: context.eventLoopGroup,
                render: { metrics.render() }
            )
            state.withLock { $0.metricsServer = server }
        }
    }

    package static func loadOrCreateIdentity(_ path: String, logger: Logger) throws -> EndpointIdentity {
        if FileManager.default.fileExists(atPath: path) {
            return try EndpointIdentity.load(fromFile: path)
        }
        let identity = EndpointIdentity.generate()
        try identity.save(toFile: path)
        logger.notice("created a new endpoint key", metadata: ["key_file": "\(path)", "id": "\(identity.id)"])
        return identity
    }

    /// Tunnels to the same peer address and service share one dialer (one QUIC connection).
    static func dialerKey(peer: EndpointAddress, service: String) -> String {
        "\(peer)/\(service)"
    }

    static func pluginKey(_ name: String, _ settings: DaemonConfig.PluginSettings) -> String {
        name + "\u{0}" + settings.command.joined(separator: "\u{0}")
    }

    // MARK: Run

    /// Serves until SIGTERM or SIGINT (or `shutdown()`), reloading on SIGHUP; sends READY=1 first.
    public func run() async throws {
        let serving = ClosureService { [self] in
            await withGracefulShutdownHandler {
                await self.serve()
            } onGracefulShutdown: {
                Task { await self.shutdown() }
            }
        }
        let reloader = ClosureService { [self] in
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            // The group traps SIGTERM/SIGINT before starting services and SIGHUP is trapped now, so systemd (or
            // a test) may signal as soon as it hears READY=1.
            self.notifier.ready(status: "serving on \(self.localAddresses.map(\.description).joined(separator: ", "))")
            for await _ in hangups.cancelOnGracefulShutdown() {
                _ = await self.reload()
            }
        }
        let watchdog = ClosureService { [self] in
            guard let interval = self.notifier.watchdogInterval else { return }
            while !Task.isCancelled {
                self.notifier.watchdog()
                try? await Task.sleep(for: interval)
                if self.state.withLock({ $0.isStopped }) { return }
            }
        }
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: watchdog, successTerminationBehavior: .ignore),
                .init(service: serving),
                .init(service: reloader),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: context.logger
        )
        configuration.maximumGracefulShutdownDuration = config.endpoint.shutdownTimeout + .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }

    /// Runs the accept loops of tunnels, the control socket and metrics until they are closed.
    func serve() async {
        let (tunnels, control, metricsServer) = state.withLock { ($0.tunnels, $0.control, $0.metricsServer) }
        await withDiscardingTaskGroup { group in
            for tunnel in tunnels { group.addTask { await tunnel.run() } }
            if let control { group.addTask { await control.run() } }
            if let metricsServer { group.addTask { await metricsServer.run() } }
            group.addTask {
                // The routers run in tasks of their own; serving ends once shutdown has finished with them.
                await self.waitUntilStopped()
            }
        }
    }

    // MARK: Shutdown

    /// Waits until a shutdown (started by anyone) has finished.
    public func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = state.withLock { state -> Bool in
                if state.isStopped { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    /// Graceful, bounded shutdown: STOPPING=1, stop accepting, close connections (CONNECTION_CLOSE), stop
    /// plugins; hooks still running at `shutdown_timeout` are logged and abandoned. Safe to call more than once:
    /// later calls return when the first has finished.
    public func shutdown() async {
        let first = state.withLock { state -> Bool in
            defer { state.isShuttingDown = true }
            return !state.isShuttingDown
        }
        guard first else {
            // A second caller (the CLI after the ServiceGroup returned, a test) waits for the first to finish.
            await waitUntilStopped()
            return
        }
        notifier.stopping()
        context.logger.info("shutting down")
        let (routers, tunnels, dialers, plugins, control, metricsServer) = state.withLock {
            ($0.routers, $0.tunnels, $0.dialers, Array($0.plugins.values), $0.control, $0.metricsServer)
        }
        for tunnel in tunnels { tunnel.close() }
        var lifecycle = LifecycleHooks(shutdownDeadline: config.endpoint.shutdownTimeout)
        for (index, router) in routers.enumerated() {
            lifecycle.onShutdown("endpoint-\(index + 1)") { await router.shutdown() }
        }
        for dialer in dialers {
            lifecycle.onShutdown("tunnel-\(dialer.peer.id.shortDescription)") { await dialer.close() }
        }
        for plugin in plugins {
            lifecycle.onShutdown("plugin-\(plugin.name)") { plugin.stop() }
        }
        let report = await LifecycleRunner(hooks: lifecycle, logger: context.logger).runShutdown()
        if !report.isComplete {
            context.logger.warning("shutdown deadline passed", metadata: ["unfinished": "\(report.unfinished)"])
        }
        control?.close()
        metricsServer?.close()
        context.logger.info("stopped")
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isStopped = true
            defer { state.stopWaiters.removeAll() }
            return state.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

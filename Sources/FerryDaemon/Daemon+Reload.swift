import Ferry
import Foundation
import Logging

extension Daemon {
    /// Re-reads and validates the configuration file and swaps in the new hook chain, services and tunnels
    /// (SIGHUP, `ferry reload`).
    ///
    /// An invalid file (or a new tunnel port that cannot be bound) keeps the running configuration; the error
    /// (with file, line and key) is logged, counted, kept for `status`, and returned. systemd sees RELOADING=1
    /// then READY=1 either way. Everything new is prepared first (tunnel listeners bound, plugins started), then
    /// the hook chain, the service table and the tunnel list are swapped in, then what was dropped is closed.
    /// Services: a changed `forward`/`type` applies to the next stream; a new name is offered from the next
    /// handshake on (its ALPN joins the endpoints' TLS list and its handler the routers' tables); a removed name
    /// is refused in TLS from the next handshake on (no_application_protocol), while its established
    /// connections stay open (their new streams are reset). The UDP sockets, key, control socket, metrics
    /// listener and log format need a restart (listed in `needsRestart`). With `reevaluate_on_reload`,
    /// established connections the new chain rejects are closed with the policy code; connections it accepts
    /// are never touched.
    @discardableResult
    public func reload() async -> ControlReload {
        notifier.reloading()
        let path = config.file
        context.logger.info("reloading configuration", metadata: ["file": "\(path)"])
        let result: ControlReload
        do {
            let newConfig = try DaemonConfig.load(path: path)
            result = try await apply(newConfig)
            context.metrics.recordReload(result: "ok")
            context.logger.info(
                "configuration reloaded",
                metadata: ["hooks": "\(newConfig.hooks.map(\.name))", "closed": "\(result.closedConnections)", "needs_restart": "\(result.needsRestart)"]
            )
        } catch {
            result = ControlReload(ok: false, error: "\(error)", closedConnections: 0, needsRestart: [], time: ControlTime.format(Date()))
            context.metrics.recordReload(result: "error")
            context.logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
        }
        state.withLock { $0.lastReload = result }
        notifier.ready(status: result.ok ? "reloaded" : "reload failed: \(result.error ?? "")")
        return result
    }

    private func apply(_ newConfig: DaemonConfig) async throws(ReloadError) -> ControlReload {
        let old = config
        let tunnelPlan = try await prepareTunnels(newConfig.tunnels)
        // Plugins whose hook name and command are unchanged keep running; others start or stop.
        let existing = state.withLock { $0.plugins }
        var kept: [String: PluginClient] = [:]
        var started: [PluginClient] = []
        let recorder = DecisionRecorder(logger: context.logger, metrics: context.metrics)
        let logger = context.logger
        let metrics = context.metrics
        let snapshot = PolicyEngine.makeSnapshot(config: newConfig, recorder: recorder, registry: context.registry) { hook, settings in
            let key = Daemon.pluginKey(hook.name, settings)
            if let client = existing[key] {
                kept[key] = client
                return client
            }
            let client = PluginClient(command: settings.command, name: hook.name, timeout: settings.timeout, logger: logger, metrics: metrics)
            kept[key] = client
            started.append(client)
            return client
        }
        for client in started {
            client.start()
            _ = await client.waitUntilReady(limit: .seconds(2))
        }
        // The swap: policy, services (settings, then what TLS offers), tunnels. The policy goes first so a new
        // service's first connection meets the hooks that name it.
        context.engine.install(snapshot)
        context.installServices(newConfig.services)
        updateServiceHandlers(from: old.services, to: newConfig.services)
        state.withLock {
            $0.tunnels = tunnelPlan.tunnels
            $0.dialers = tunnelPlan.dialers
        }
        for listener in tunnelPlan.removed { await listener.closeListening() }
        for dialer in tunnelPlan.removedDialers { await dialer.close() }
        for listener in tunnelPlan.added { Task { await listener.run() } }
        let stopped = existing.filter { kept[$0.key] == nil }.map { $0.value }
        for client in stopped { client.stop() }
        var needsRestart: [String] = []
        if old.endpoint.listen != newConfig.endpoint.listen { needsRestart.append("endpoint.listen") }
        if old.endpoint.keyFile != newConfig.endpoint.keyFile { needsRestart.append("endpoint.key_file") }
        if old.endpoint.relays != newConfig.endpoint.relays { needsRestart.append("endpoint.relays") }
        if old.endpoint.pathMode != newConfig.endpoint.pathMode { needsRestart.append("endpoint.path_mode") }
        if old.endpoint.relayToken != newConfig.endpoint.relayToken { needsRestart.append("endpoint.relay_token") }
        if old.control != newConfig.control { needsRestart.append("control") }
        if old.metrics != newConfig.metrics { needsRestart.append("metrics") }
        if old.logging.format != newConfig.logging.format { needsRestart.append("logging.format") }
        var appliedLevel = old.logging.level
        if old.logging.level != newConfig.logging.level {
            if let control = context.logLevelControl {
                control.level = newConfig.logging.level
                appliedLevel = newConfig.logging.level
            } else {
                needsRestart.append("logging.level")
            }
        }
        // Keep the sockets, services and tunnels actually running; take the policy settings.
        var running = old
        running.hooks = newConfig.hooks
        running.services = newConfig.services
        running.tunnels = newConfig.tunnels
        running.endpoint.hookTimeout = newConfig.endpoint.hookTimeout
        running.endpoint.reevaluateOnReload = newConfig.endpoint.reevaluateOnReload
        running.endpoint.shutdownTimeout = newConfig.endpoint.shutdownTimeout
        running.logging.level = appliedLevel
        state.withLock {
            $0.config = running
            $0.plugins = kept
        }
        var closed = 0
        if newConfig.endpoint.reevaluateOnReload {
            closed = await reevaluateConnections()
        }
        return ControlReload(ok: true, error: nil, closedConnections: closed, needsRestart: needsRestart, time: ControlTime.format(Date()))
    }

    /// Offers the services `new` adds and withdraws the ones it drops, on every endpoint.
    ///
    /// Runs after `installServices`: an added service's handler finds its settings at once; a removed one's
    /// settings are already gone, so a connection whose handshake was in flight is closed, never served.
    private func updateServiceHandlers(from old: [DaemonConfig.ServiceSettings], to new: [DaemonConfig.ServiceSettings]) {
        let oldNames = Set(old.map(\.name))
        let newNames = Set(new.map(\.name))
        let routers = state.withLock { $0.routers }
        for router in routers {
            for service in old where !newNames.contains(service.name) {
                router.removeHandler(for: service.alpn)
            }
            for service in new where !oldNames.contains(service.name) {
                do {
                    try router.addHandler(ServiceHandler(name: service.name, daemon: context), for: service.alpn)
                } catch {
                    context.logger.error("cannot offer service", metadata: ["service": "\(service.name)", "error": "\(error)"])
                }
            }
        }
        let added = new.map(\.name).filter { !oldNames.contains($0) }
        let removed = old.map(\.name).filter { !newNames.contains($0) }
        if !added.isEmpty || !removed.isEmpty {
            context.logger.info("services changed", metadata: ["added": "\(added)", "removed": "\(removed)"])
        }
    }

    /// What a reload does to the tunnels: the new list in configuration order, and what to start and stop.
    struct TunnelPlan {
        var tunnels: [TunnelListener] = []
        var dialers: [PeerDialer] = []
        var added: [TunnelListener] = []
        var removed: [TunnelListener] = []
        var removedDialers: [PeerDialer] = []
    }

    /// Keeps the listeners of unchanged tunnels and binds the new ones; on a bind failure closes what it bound
    /// and throws, leaving the running tunnels untouched.
    private func prepareTunnels(_ wanted: [DaemonConfig.TunnelSettings]) async throws(ReloadError) -> TunnelPlan {
        let (current, currentDialers) = state.withLock { ($0.tunnels, $0.dialers) }
        func key(_ tunnel: DaemonConfig.TunnelSettings) -> String {
            "\(tunnel.listen) \(Daemon.dialerKey(peer: tunnel.peer, service: tunnel.service))"
        }
        var remaining = current
        var dialers = Dictionary(
            currentDialers.map { (Daemon.dialerKey(peer: $0.peer, service: $0.service), $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var plan = TunnelPlan()
        var used: [String: PeerDialer] = [:]
        for tunnel in wanted {
            let dialerKey = Daemon.dialerKey(peer: tunnel.peer, service: tunnel.service)
            if let index = remaining.firstIndex(where: { key($0.settings) == key(tunnel) }) {
                plan.tunnels.append(remaining.remove(at: index))
                used[dialerKey] = dialers[dialerKey]
                continue
            }
            let dialer = dialers[dialerKey] ?? PeerDialer(peer: tunnel.peer, service: tunnel.service, daemon: context)
            dialers[dialerKey] = dialer
            used[dialerKey] = dialer
            do {
                let listener = try await TunnelListener.bind(settings: tunnel, dialer: dialer, daemon: context)
                plan.tunnels.append(listener)
                plan.added.append(listener)
            } catch {
                for listener in plan.added { listener.close() }
                throw .tunnelBindFailed(listen: tunnel.listen, line: tunnel.line, file: config.file, reason: "\(error)")
            }
        }
        plan.removed = remaining
        plan.dialers = Array(used.values)
        plan.removedDialers = currentDialers.filter { dialer in !used.values.contains { $0 === dialer } }
        return plan
    }

    /// Closes established connections the current chain rejects; returns how many.
    func reevaluateConnections() async -> Int {
        var closed = 0
        for entry in context.registry.entries() {
            let connection = entry.connection
            let subject = PolicySubject(remoteID: connection.remoteID, alpn: connection.alpn, side: connection.side, remoteAddress: connection.remoteAddress)
            if case .reject(let reason) = await context.engine.reevaluate(subject) {
                context.logger.notice(
                    "closing connection rejected by the reloaded policy",
                    metadata: ["remote_id": "\(connection.remoteID)", "reason": "\(reason)"]
                )
                connection.close(code: policyRejectionCode, reason: reason)
                closed += 1
            }
        }
        return closed
    }

    /// The last reload's result.
    public var lastReload: ControlReload? { state.withLock { $0.lastReload } }
}

/// Why a valid configuration could not be applied.
enum ReloadError: Error, CustomStringConvertible {
    /// A new tunnel's local port could not be bound.
    case tunnelBindFailed(listen: HostPort, line: Int, file: String, reason: String)

    var description: String {
        switch self {
        case .tunnelBindFailed(let listen, let line, let file, let reason):
            "\(file):\(line): tunnel 'listen': cannot listen on \(listen): \(reason)"
        }
    }
}

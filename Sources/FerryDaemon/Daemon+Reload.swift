import Ferry
import Foundation
import Logging

extension Daemon {
    /// Re-reads and validates the configuration file and swaps in the new hook chain (SIGHUP, `ferry reload`).
    ///
    /// An invalid file keeps the running configuration; the error (with file, line and key) is logged, counted,
    /// kept for `status`, and returned. systemd sees RELOADING=1 then READY=1 either way. Hooks, hook timeout and
    /// logging-independent policy apply at once; sockets, services and tunnels only change on restart (listed in
    /// `needsRestart`). With `reevaluate_on_reload`, established connections the new chain rejects are closed
    /// with the policy code; connections it accepts are never touched.
    @discardableResult
    public func reload() async -> ControlReload {
        notifier.reloading()
        let path = config.file
        context.logger.info("reloading configuration", metadata: ["file": "\(path)"])
        let result: ControlReload
        do {
            let newConfig = try DaemonConfig.load(path: path)
            result = await apply(newConfig)
            context.metrics.recordReload(result: "ok")
            context.logger.info(
                "configuration reloaded",
                metadata: ["hooks": "\(newConfig.hooks.map(\.name))", "closed": "\(result.closedConnections)", "needs_restart": "\(result.needsRestart)"]
            )
        } catch {
            result = ControlReload(ok: false, error: error.description, closedConnections: 0, needsRestart: [], time: ControlTime.format(Date()))
            context.metrics.recordReload(result: "error")
            context.logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
        }
        state.withLock { $0.lastReload = result }
        notifier.ready(status: result.ok ? "reloaded" : "reload failed: \(result.error ?? "")")
        return result
    }

    private func apply(_ newConfig: DaemonConfig) async -> ControlReload {
        let old = config
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
        context.engine.install(snapshot)
        let stopped = existing.filter { kept[$0.key] == nil }.map { $0.value }
        for client in stopped { client.stop() }
        var needsRestart: [String] = []
        if old.endpoint.listen != newConfig.endpoint.listen { needsRestart.append("endpoint.listen") }
        if old.endpoint.keyFile != newConfig.endpoint.keyFile { needsRestart.append("endpoint.key_file") }
        if old.services != newConfig.services { needsRestart.append("services") }
        if old.tunnels != newConfig.tunnels { needsRestart.append("tunnels") }
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

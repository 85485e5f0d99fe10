import Foundation

/// Human-readable renderings of control answers for the `ferry` CLI (`--json` prints the answer line instead).
public enum ControlFormatting {
    /// `ferry status`.
    public static func status(_ status: ControlStatus) -> String {
        var lines = [
            "endpoint     \(status.endpointID)",
            "listen       \(status.listen.joined(separator: ", "))",
            "pid          \(status.pid)   uptime \(duration(status.uptimeSeconds))",
            "connections  \(status.connections)",
            "services     \(status.services.isEmpty ? "-" : status.services.joined(separator: ", "))",
            "tunnels      \(status.tunnels.isEmpty ? "-" : status.tunnels.joined(separator: ", "))",
            "hooks        \(status.hooks.isEmpty ? "-" : status.hooks.joined(separator: ", "))",
            "config       \(status.configFile)",
        ]
        if let metrics = status.metrics { lines.append("metrics      http://\(metrics)/metrics") }
        if let reload = status.lastReload {
            lines.append("last reload  \(reload.ok ? "ok" : "FAILED: \(reload.error ?? "")") at \(reload.time)")
        }
        if let pathMode = status.pathMode { lines.append("path mode    \(pathMode)") }
        for relay in status.relays ?? [] {
            let state = relay.ready ? (relay.home ? "home" : "ready") : "connecting"
            let rtt = relay.rttMilliseconds.map { String(format: "%.1fms", $0) } ?? "-"
            lines.append("relay        \(relay.relay) \(relay.transport) \(state) rtt \(rtt)")
        }
        if let observed = status.observedAddresses, !observed.isEmpty {
            lines.append("public       \(observed.joined(separator: ", ")) (as relays observe it)")
        }
        return lines.joined(separator: "\n")
    }

    /// `ferry status` against a relay.
    public static func relayStatus(_ status: RelayControlStatus) -> String {
        let clients = status.clients.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        var lines = [
            "relay        \(status.endpointID)",
            "listen       \(status.listen.joined(separator: ", ")) (udp), \(status.tcpListen.joined(separator: ", ")) (tcp)",
            "pid          \(status.pid)   uptime \(duration(status.uptimeSeconds))",
            "access       \(status.access)",
            "clients      \(clients.isEmpty ? "0" : clients) (max \(status.maximumClients))",
            "forwarded    \(status.packetsForwarded) packets, \(bytes(status.bytesForwarded))",
        ]
        let drops = status.drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append("drops        \(drops.isEmpty ? "-" : drops.joined(separator: ", "))")
        for peer in status.mesh { lines.append("mesh         \(peer.relay) \(peer.linked ? "linked" : "down")") }
        if !status.mesh.isEmpty { lines.append("mesh ids     \(status.meshDirectory)") }
        return lines.joined(separator: "\n")
    }

    /// `ferry connections`.
    public static func connections(_ connections: [ControlConnection]) -> String {
        var rows = [["#", "REMOTE", "ADDRESS", "PATH", "SERVICE", "SIDE", "RTT", "SENT", "RECEIVED", "SINCE"]]
        for connection in connections {
            rows.append([
                "\(connection.number)", String(connection.remoteID.prefix(10)), connection.remoteAddress,
                connection.path ?? "-", connection.service ?? "-", connection.side, String(format: "%.1fms", connection.rttMilliseconds),
                bytes(connection.bytesSent), bytes(connection.bytesReceived), connection.since,
            ])
        }
        return table(rows)
    }

    /// `ferry remotes`.
    public static func remotes(_ remotes: [ControlRemote]) -> String {
        var rows = [["REMOTE", "LIVE", "TOTAL", "PATH", "RTT", "SENT", "RECEIVED", "PATHS", "LAST SEEN"]]
        for remote in remotes {
            rows.append([
                remote.remoteID, "\(remote.connections)", "\(remote.totalConnections)", remote.path ?? "-",
                remote.rttMilliseconds.map { String(format: "%.1fms", $0) } ?? "-",
                bytes(remote.bytesSent), bytes(remote.bytesReceived), remote.pathsSeen.joined(separator: ","), remote.lastSeen,
            ])
        }
        return table(rows)
    }

    /// `ferry reload`.
    public static func reload(_ reload: ControlReload) -> String {
        var text = "reloaded at \(reload.time)"
        if reload.closedConnections > 0 { text += "; closed \(reload.closedConnections) connections the new policy rejects" }
        if !reload.needsRestart.isEmpty { text += "\nneeds a restart to take effect: \(reload.needsRestart.joined(separator: ", "))" }
        return text
    }

    static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count)B" : String(format: "%.1f%@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        return "\(total / 3600)h\((total % 3600) / 60)m"
    }
}

extension ControlClient {
    /// The control socket to use: `--socket`, else the one a configuration file names, else `$FERRYD_SOCKET`,
    /// else `/run/ferryd/ferryd.sock` (the systemd unit's runtime directory) when it exists, else
    /// `./ferryd.sock`.
    public static func socketPath(
        explicit: String?,
        configPath: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> String {
        if let explicit { return explicit }
        if let configPath {
            guard let socket = try DaemonConfig.load(path: configPath, environment: environment).control.socket else {
                throw ConfigError(file: configPath, line: 0, key: "control.enabled", problem: .invalidValue("false", reason: "the control socket is disabled"))
            }
            return socket
        }
        if let fromEnvironment = environment["FERRYD_SOCKET"], !fromEnvironment.isEmpty { return fromEnvironment }
        if FileManager.default.fileExists(atPath: "/run/ferryd/ferryd.sock") { return "/run/ferryd/ferryd.sock" }
        return "ferryd.sock"
    }
}

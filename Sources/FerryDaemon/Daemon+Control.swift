import Ferry
import Foundation

extension Daemon {
    /// Answers one control request with one JSON line.
    func handleControl(_ request: ControlRequest) async -> String {
        switch request.command {
        case .status:
            return Self.encode(await statusWithRelays())
        case .connections:
            return Self.encode(await connections())
        case .remotes:
            return Self.encode(await remotes())
        case .reload:
            let result = await reload()
            guard result.ok else { return Self.encodeError(result.error ?? "reload failed") }
            return Self.encode(result)
        case .checkConfig:
            let report = DaemonCommandLine.checkConfigReport(path: request.path ?? config.file)
            return Self.encode(ControlCheck(ok: report.status == 0, message: report.message))
        case .clients, .other:
            return Self.encodeError("unknown command '\(request.command)' (status, connections, remotes, reload, check-config)")
        }
    }

    /// The `status` answer.
    public func status() -> ControlStatus {
        let config = self.config
        let ports = tunnelPorts
        return ControlStatus(
            endpointID: endpointID.hex,
            listen: localAddresses.map(\.description),
            pid: getpid(),
            uptimeSeconds: Date().timeIntervalSince(startedAt),
            connections: registry.count,
            services: config.services.map { "\($0.name) (\($0.alpn))" },
            tunnels: config.tunnels.enumerated().map { index, tunnel in
                let port = index < ports.count ? UInt16(clamping: ports[index]) : tunnel.listen.port
                return "\(HostPort(host: tunnel.listen.host, port: port)) -> \(tunnel.peer.id.shortDescription)/\(tunnel.service)"
            },
            hooks: config.hooks.map { "\($0.name) (\($0.kind.typeName))" },
            configFile: config.file,
            lastReload: lastReload,
            metrics: config.metrics.flatMap { settings in
                metricsPort.map { HostPort(host: settings.listen.host, port: UInt16(clamping: $0)).description }
            }
        )
    }

    /// `status` plus the relay links of the dialing endpoint.
    public func statusWithRelays() async -> ControlStatus {
        var result = status()
        guard let endpoint = context.dialingEndpoint, !endpoint.relays.isEmpty else { return result }
        let relays = await endpoint.relayStatus()
        result.pathMode = endpoint.pathMode.rawValue
        result.relays = relays.map { status in
            ControlRelay(
                relay: status.relay.description, transport: status.transport.rawValue, ready: status.isReady,
                home: status.isHome, rttMilliseconds: status.rtt.map(Self.milliseconds),
                packetsSent: status.packetsSent, packetsReceived: status.packetsReceived,
                packetsDropped: status.packetsDropped, observedAddress: status.observedAddress?.description)
        }
        result.observedAddresses = Array(Set(relays.compactMap { $0.observedAddress?.description })).sorted()
        return result
    }

    /// The `connections` answer.
    public func connections() async -> [ControlConnection] {
        var result: [ControlConnection] = []
        for entry in registry.entries() {
            let connection = entry.connection
            let stats = await connection.stats
            let path = await connection.paths.first
            let timeToDirect = await connection.timeToDirect
            result.append(
                ControlConnection(
                    number: entry.number,
                    remoteID: connection.remoteID.hex,
                    remoteAddress: connection.remoteAddress.description,
                    alpn: connection.alpn,
                    service: entry.service,
                    side: connection.side == .server ? "server" : "client",
                    since: ControlTime.format(entry.since),
                    rttMilliseconds: Self.milliseconds(stats.smoothedRTT),
                    bytesSent: stats.bytesSent,
                    bytesReceived: stats.bytesReceived,
                    path: path?.kind.description,
                    directAfterMilliseconds: timeToDirect.map(Self.milliseconds)
                )
            )
        }
        return result
    }

    /// The `remotes` answer.
    public func remotes() async -> [ControlRemote] {
        let live = await connections()
        var result: [ControlRemote] = []
        for (id, history) in registry.history().sorted(by: { $0.key < $1.key }) {
            let mine = live.filter { $0.remoteID == id.hex }
            result.append(
                ControlRemote(
                    remoteID: id.hex,
                    connections: mine.count,
                    totalConnections: history.totalConnections,
                    rttMilliseconds: mine.map(\.rttMilliseconds).min() ?? history.lastRTT.map(Self.milliseconds),
                    bytesSent: history.closedBytesSent + mine.reduce(0) { $0 + $1.bytesSent },
                    bytesReceived: history.closedBytesReceived + mine.reduce(0) { $0 + $1.bytesReceived },
                    pathsSeen: history.pathsSeen.map(\.description).sorted(),
                    lastSeen: ControlTime.format(history.lastSeen),
                    path: Set(mine.compactMap(\.path)).sorted().joined(separator: ", ").nilIfEmpty
                )
            )
        }
        return result
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func encode<Result: Codable & Sendable>(_ result: Result) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let response = ControlResponse(ok: true, result: result, error: nil)
        guard let data = try? encoder.encode(response) else { return encodeError("cannot encode the answer") }
        return String(decoding: data, as: UTF8.self)
    }

    static func encodeError(_ message: String) -> String {
        let response = ControlResponse<ControlCheck>(ok: false, result: nil, error: message)
        guard let data = try? JSONEncoder().encode(response) else { return #"{"ok":false}"# }
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    /// nil for the empty string.
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

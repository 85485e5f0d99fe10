import Ferry
import FerryCrypto
import FerryDaemon
import Foundation

extension RelayServer {
    /// The relay's status now.
    public func status() -> RelayControlStatus {
        let counts = forwarder.clientCounts()
        let linked = forwarder.meshLinkedRelays
        let totals = forwarder.forwarded()
        return RelayControlStatus(
            endpointID: id.hex,
            listen: localAddresses.map(\.description),
            tcpListen: tcpAddresses.map(\.description),
            pid: getpid(),
            uptimeSeconds: (ContinuousClock.now - started).secondsDouble,
            access: config.access.name,
            clients: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
            maximumClients: config.limits.maximumClients,
            mesh: config.mesh.map { RelayControlStatus.MeshPeer(relay: $0.description, linked: linked.contains($0.id)) },
            meshDirectory: forwarder.directoryCount,
            packetsForwarded: totals.packets,
            bytesForwarded: totals.bytes,
            drops: Dictionary(uniqueKeysWithValues: forwarder.dropCounts().map { ($0.key.rawValue, $0.value) })
        )
    }

    /// Answers one control request (docs/relay.md §8.2): `status`, `connections` (the clients), `check-config`.
    func handleControl(_ request: ControlRequest) -> String {
        switch request.command {
        case .status:
            return Self.encode(status())
        case .connections, .clients:
            let now = ContinuousClock.now
            let clients = forwarder.clientSnapshot().map { id, counters in
                RelayControlClient(
                    endpointID: id.hex, transport: counters.transport.rawValue,
                    connectedSeconds: (now - counters.since).secondsDouble, packetsIn: counters.packetsIn,
                    packetsOut: counters.packetsOut)
            }
            return Self.encode(clients)
        case .checkConfig:
            let path = request.path ?? config.file
            do {
                let checked = try RelayConfig.load(path: path)
                return Self.encode(ControlCheck(ok: true, message: "\(path): OK (access \(checked.access.name))"))
            } catch {
                return Self.encode(ControlCheck(ok: false, message: "\(error)"))
            }
        default:
            return #"{"ok":false,"error":"unknown command for a relay (status, connections, check-config)"}"#
        }
    }

    private static func encode<Result: Encodable & Sendable>(_ result: Result) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(RelayControlAnswer(ok: true, result: result)) else { return #"{"ok":false,"error":"encoding failed"}"# }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    var secondsDouble: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// One control answer line: `{"ok":true,"result":…}`.
struct RelayControlAnswer<Result: Encodable>: Encodable {
    var ok: Bool
    var result: Result
}

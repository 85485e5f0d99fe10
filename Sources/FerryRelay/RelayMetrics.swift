import CoreMetrics
import FerryDaemon
import Metrics
import Prometheus

/// ferry-relay's Prometheus metrics (docs/relay.md §8.3), written through swift-metrics into the registry of a
/// `DaemonMetrics`, so the hook decisions the policy chain records appear beside them.
final class RelayMetrics: Sendable {
    let daemon: DaemonMetrics
    private let factory: PrometheusMetricsFactory
    private let packetsForwarded: CoreMetrics.Counter
    private let bytesForwarded: CoreMetrics.Counter
    private let meshPacketsForwarded: CoreMetrics.Counter

    init() {
        daemon = DaemonMetrics()
        factory = PrometheusMetricsFactory(registry: daemon.registry)
        packetsForwarded = CoreMetrics.Counter(label: "ferry_relay_packets_forwarded_total", factory: factory)
        bytesForwarded = CoreMetrics.Counter(label: "ferry_relay_bytes_forwarded_total", factory: factory)
        meshPacketsForwarded = CoreMetrics.Counter(label: "ferry_relay_mesh_packets_forwarded_total", factory: factory)
    }

    /// Clients now connected, by transport (`udp`, `tcp`).
    func clients(_ count: Int, transport: String) {
        CoreMetrics.Gauge(label: "ferry_relay_clients", dimensions: [("transport", transport)], factory: factory).record(Double(count))
    }

    /// Mesh relays now linked.
    func meshPeers(_ count: Int) {
        CoreMetrics.Gauge(label: "ferry_relay_mesh_peers", factory: factory).record(Double(count))
    }

    /// A packet of `bytes` delivered to a client.
    func forwarded(bytes: Int, viaMesh: Bool) {
        packetsForwarded.increment()
        bytesForwarded.increment(by: bytes)
        if viaMesh { meshPacketsForwarded.increment() }
    }

    /// A packet dropped, by reason (`rate_limited`, `queue_full`, `not_connected`, `too_large`, `closed`).
    func dropped(_ reason: RelayDropReason) {
        CoreMetrics.Counter(label: "ferry_relay_drops_total", dimensions: [("reason", reason.rawValue)], factory: factory).increment()
    }

    /// A client refused or closed, by reason (`unauthorized`, `full`, `protocol`, `hello_timeout`).
    func refused(_ reason: String) {
        CoreMetrics.Counter(label: "ferry_relay_refusals_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func render() -> String { daemon.render() }
}

/// Why the relay dropped a packet.
public enum RelayDropReason: String, Sendable, CaseIterable, Codable {
    /// The sender exceeded its rate limit.
    case rateLimited = "rate_limited"
    /// The destination's queue was full.
    case queueFull = "queue_full"
    /// No relay of the mesh has the destination.
    case notConnected = "not_connected"
    /// The packet fits no DATAGRAM frame to the destination and is above the guaranteed size.
    case tooLarge = "too_large"
    /// The destination's connection closed while the packet was on its way.
    case closed
}

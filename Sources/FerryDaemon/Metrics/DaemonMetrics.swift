import CoreMetrics
import Foundation
import Metrics
import Prometheus

/// ferryd's metrics, recorded through swift-metrics into a Prometheus registry of the daemon's own.
///
/// A registry per daemon (rather than `MetricsSystem.bootstrap`, which may run once per process) keeps tests
/// that start several daemons independent. `render()` produces the Prometheus text exposition format.
public final class DaemonMetrics: Sendable {
    /// The registry the factory writes to.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    /// Creates metrics backed by a fresh registry.
    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["ferry_handshake_duration_seconds"] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
            .seconds(5),
        ]
        self.registry = registry
        self.factory = factory
    }

    /// A connection was established; `side` is `client` (tunnel) or `server` (service).
    public func connectionOpened(side: String) {
        Counter(label: "ferry_connections_opened_total", dimensions: [("side", side)], factory: factory).increment()
        Gauge(label: "ferry_connections_active", dimensions: [("side", side)], factory: factory)
            .record(Double(activeCount(side: side, delta: 1)))
    }

    /// A connection ended.
    public func connectionClosed(side: String) {
        Gauge(label: "ferry_connections_active", dimensions: [("side", side)], factory: factory)
            .record(Double(activeCount(side: side, delta: -1)))
    }

    /// How long a handshake took: `client`, from the dial to the connection being usable; `server`, from the
    /// first Initial reaching the incoming filter to the handshake completing.
    public func recordHandshake(duration: Duration, side: String) {
        CoreMetrics.Timer(label: "ferry_handshake_duration_seconds", dimensions: [("side", side)], factory: factory)
            .record(duration: duration)
    }

    /// A hook decided (`accept`, `reject`) or failed (`error`).
    public func recordHookDecision(hook: String, outcome: String) {
        Counter(label: "ferry_hook_decisions_total", dimensions: [("hook", hook), ("outcome", outcome)], factory: factory)
            .increment()
    }

    /// Bytes relayed between streams and TCP, by direction (`to_peer`, `from_peer`).
    public func recordBytes(_ count: Int, direction: String) {
        guard count > 0 else { return }
        Counter(label: "ferry_relayed_bytes_total", dimensions: [("direction", direction)], factory: factory)
            .increment(by: count)
    }

    /// A plugin process was (re)started after exiting.
    public func recordPluginRestart(hook: String) {
        Counter(label: "ferry_plugin_restarts_total", dimensions: [("hook", hook)], factory: factory).increment()
    }

    /// A configuration reload finished (`ok` or `error`).
    public func recordReload(result: String) {
        Counter(label: "ferry_config_reloads_total", dimensions: [("result", result)], factory: factory).increment()
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        registry.emitToString()
    }

    private let active = Locked([String: Int]())

    private func activeCount(side: String, delta: Int) -> Int {
        active.withLock { counts in
            counts[side, default: 0] = max(0, counts[side, default: 0] + delta)
            return counts[side, default: 0]
        }
    }
}

import CoreMetrics
import Ferry
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
        factory.durationHistogramBuckets["ferry_time_to_direct_seconds"] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
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
        counter("ferry_connections_opened_total", [("side", side)]).increment()
        gauge("ferry_connections_active", [("side", side)])
            .record(Double(activeCount(side: side, delta: 1)))
    }

    /// A connection ended.
    public func connectionClosed(side: String) {
        gauge("ferry_connections_active", [("side", side)])
            .record(Double(activeCount(side: side, delta: -1)))
    }

    /// How long a handshake took: `client`, from the dial to the connection being usable; `server`, from the
    /// first Initial reaching the incoming filter to the handshake completing.
    public func recordHandshake(duration: Duration, side: String) {
        timer("ferry_handshake_duration_seconds", [("side", side)])
            .record(duration: duration)
    }

    /// A hook decided (`accept`, `reject`) or failed (`error`).
    public func recordHookDecision(hook: String, outcome: String) {
        counter("ferry_hook_decisions_total", [("hook", hook), ("outcome", outcome)])
            .increment()
    }

    /// Bytes relayed between streams and TCP, by direction (`to_peer`, `from_peer`).
    public func recordBytes(_ count: Int, direction: String) {
        guard count > 0 else { return }
        counter("ferry_relayed_bytes_total", [("direction", direction)])
            .increment(by: count)
    }

    /// A plugin process was (re)started after exiting.
    public func recordPluginRestart(hook: String) {
        counter("ferry_plugin_restarts_total", [("hook", hook)]).increment()
    }

    /// A configuration reload finished (`ok` or `error`).
    public func recordReload(result: String) {
        counter("ferry_config_reloads_total", [("result", result)]).increment()
    }

    /// Follows an accepted connection's path events until it closes: `ferry_connections_by_path{kind}` (direct or
    /// relayed now), `ferry_path_selected_total{kind}` (each time the selected path's kind changes, punching and
    /// falling back included), `ferry_time_to_direct_seconds` (from acceptance on a relay to the first direct
    /// path), `ferry_punch_attempts_total{outcome}` (each punching round this side ran, `direct` or `failed`) and
    /// `ferry_direct_path_fallbacks_total` (a punched direct path given up for the relay); docs/nat-traversal.md.
    public func observePaths(of connection: HookConnection) {
        let events = connection.pathEvents()
        Task { [self] in
            let accepted = ContinuousClock.now
            var kind = await connection.paths().first(where: \.isSelected).map(Self.kindLabel)
            if let kind { moveConnection(from: nil, to: kind) }
            let startedRelayed = kind == "relayed"
            var reachedDirect = false
            for await event in events {
                switch event {
                case .punchRoundEnded(let round):
                    let outcome = if case .direct = round.outcome { "direct" } else { "failed" }
                    counter("ferry_punch_attempts_total", [("outcome", outcome)])
                        .increment()
                case .selected(let info):
                    let newKind = Self.kindLabel(info)
                    guard newKind != kind else { continue }
                    if kind == "direct", newKind == "relayed", startedRelayed {
                        counter("ferry_direct_path_fallbacks_total", []).increment()
                    }
                    moveConnection(from: kind, to: newKind)
                    kind = newKind
                    if newKind == "direct", startedRelayed, !reachedDirect {
                        reachedDirect = true
                        timer("ferry_time_to_direct_seconds", [])
                            .record(duration: .now - accepted)
                    }
                case .opened, .closed, .lagged:
                    continue
                }
            }
            if let kind { moveConnection(from: kind, to: nil) }
        }
    }

    private static func kindLabel(_ info: PathInfo) -> String { info.kind.isRelayed ? "relayed" : "direct" }

    private let pathKinds = Locked([String: Int]())

    private func moveConnection(from old: String?, to new: String?) {
        let counts = pathKinds.withLock { counts -> [String: Int] in
            if let old { counts[old] = max(0, counts[old, default: 0] - 1) }
            if let new { counts[new, default: 0] += 1 }
            return counts
        }
        if let new {
            counter("ferry_path_selected_total", [("kind", new)]).increment()
        }
        for (label, count) in counts {
            gauge("ferry_connections_by_path", [("kind", label)]).record(Double(count))
        }
    }

    // MARK: Instruments, each created once

    /// The counters, gauges and timers made so far, by label and dimensions. Creating an instrument registers it
    /// with the factory, so each is made on first use and then reused: `recordBytes` runs once per relayed chunk.
    /// The dimensions come from the configuration (hook names) and fixed sets (sides, outcomes, kinds), so this
    /// stays small.
    private let instruments = Locked(Instruments())

    private struct Instruments {
        var counters: [String: CoreMetrics.Counter] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
        var timers: [String: CoreMetrics.Timer] = [:]
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: "\u{1}")
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        instrument(label, dimensions, \.counters) { CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory) }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Gauge {
        instrument(label, dimensions, \.gauges) { CoreMetrics.Gauge(label: label, dimensions: dimensions, factory: factory) }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
        instrument(label, dimensions, \.timers) { CoreMetrics.Timer(label: label, dimensions: dimensions, factory: factory) }
    }

    /// The instrument made for `label` and `dimensions`, made by `make` the first time.
    private func instrument<Instrument>(
        _ label: String, _ dimensions: [(String, String)], _ kind: WritableKeyPath<Instruments, [String: Instrument]>,
        make: () -> Instrument
    ) -> Instrument {
        let key = Self.key(label, dimensions)
        return instruments.withLock { made in
            if let existing = made[keyPath: kind][key] { return existing }
            let created = make()
            made[keyPath: kind][key] = created
            return created
        }
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

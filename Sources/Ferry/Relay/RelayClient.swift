import FerryCrypto
import FerryTransport
import Logging
import NIOCore

/// Keeps an endpoint linked to its configured relays: dials each, redials with backoff, and picks the home relay.
///
/// One task per relay. Each holds its relay connection (a `Connection` with ALPN `ferry/relay/1` from the
/// endpoint's own socket, or a TLS-over-TCP link) and checks it once per `tick`; a link that died is redialed
/// after an exponential backoff with jitter (0.1 s doubling to 10 s), so a restarted relay gets its clients
/// back within a second or two without a thundering herd. A dial tries UDP first and, if no handshake
/// completed within `relayTCPFallbackDelay`, races TLS over TCP as well (Happy Eyeballs, RFC 8305).
///
/// The home relay is the reachable relay with the lowest RTT; it changes only when another is better by a third
/// and 5 ms, or the home link is down, so RTT noise does not flap it (docs/relay.md §4.3).
final class RelayClient: Sendable {
    let relays: [RelayAddress]
    private let tasks = HookLock<[Task<Void, Never>]>([])

    /// How often each relay task looks at its link.
    static let tick: Duration = .seconds(1)
    static let initialBackoff: Duration = .milliseconds(100)
    static let maximumBackoff: Duration = .seconds(10)
    /// How long one dial attempt (UDP and TCP together) may take.
    static let dialTimeout: Duration = .seconds(5)

    init(relays: [RelayAddress]) {
        self.relays = relays
    }

    /// How often a link that fell back to TCP tries UDP again.
    static let udpRetryInterval: Duration = .seconds(30)

    /// Starts one maintenance task per relay.
    func start(
        core: EndpointCore, identity: EndpointIdentity, configuration: EndpointConfiguration,
        resolve: @escaping @Sendable (HostPort) -> NetworkAddress?
    ) {
        let started = relays.map { relay in
            Task {
                await Self.maintain(
                    relay: relay, core: core, identity: identity, configuration: configuration, resolve: resolve)
            }
        }
        tasks.withLock { $0 += started }
    }

    /// Cancels the tasks; their relay connections close with the endpoint.
    func stop() {
        let running = tasks.withLock { tasks in
            defer { tasks.removeAll() }
            return tasks
        }
        for task in running { task.cancel() }
    }

    private static func maintain(
        relay: RelayAddress,
        core: EndpointCore,
        identity: EndpointIdentity,
        configuration: EndpointConfiguration,
        resolve: @escaping @Sendable (HostPort) -> NetworkAddress?
    ) async {
        let logger = configuration.logger
        let tcpPort = configuration.relayTCPPort ?? relay.address.port
        var backoff = initialBackoff
        var held: Connection?
        var lastUDPAttempt = ContinuousClock.now
        while !Task.isCancelled {
            let link = await core.driver.compute { $0.relayState.links[relay.id]?.transportKind }
            if link == nil {
                held = nil
                var outcome = DialOutcome.failed
                if let remote = resolve(relay.address) {
                    lastUDPAttempt = .now
                    outcome = await dial(
                        relay: relay, remote: remote, tcpPort: tcpPort, identity: identity, core: core,
                        tcpDelay: configuration.relayTCPFallbackDelay)
                }
                switch outcome {
                case .udp(let connection):
                    held = connection
                case .tcp:
                    logger.notice("relay reached over TCP (UDP failed)", metadata: ["relay": "\(relay)"])
                case .failed:
                    logger.debug("relay unreachable, retrying", metadata: ["relay": "\(relay)", "in": "\(backoff)"])
                    try? await Task.sleep(for: backoff * Double.random(in: 0.5...1.0))
                    backoff = min(backoff * 2, maximumBackoff)
                    continue
                }
                backoff = initialBackoff
            } else if link == .tcp, ContinuousClock.now - lastUDPAttempt > udpRetryInterval, let remote = resolve(relay.address) {
                // On the fallback: try UDP again now and then; a QUIC link replaces the TCP one when it comes up.
                lastUDPAttempt = .now
                if let connection = await dialUDP(relay: relay, remote: remote, core: core) { held = connection }
            }
            await core.driver.compute {
                $0.updateHomeRelay()
                $0.checkCandidatesIfDue()
            }
            try? await Task.sleep(for: tick)
        }
        held?.close(code: RelayCloseCode.shutdown, reason: "endpoint closing")
    }

    enum DialOutcome: Sendable {
        case udp(Connection)
        case tcp
        case failed
    }

    /// One dial, bounded by `dialTimeout`: QUIC over UDP at once, and TLS over TCP as well if UDP has not
    /// succeeded after `tcpDelay` (Happy Eyeballs, RFC 8305 §5). The first success wins; the other attempt is
    /// cancelled (a TCP link that completes after a QUIC one closes itself).
    private static func dial(
        relay: RelayAddress, remote: NetworkAddress, tcpPort: UInt16, identity: EndpointIdentity, core: EndpointCore,
        tcpDelay: Duration
    ) async -> DialOutcome {
        await withTaskGroup(of: DialOutcome?.self) { group in
            group.addTask {
                guard let connection = await dialUDP(relay: relay, remote: remote, core: core) else {
                    return .failed
                }
                return .udp(connection)
            }
            group.addTask {
                try? await Task.sleep(for: tcpDelay)
                guard !Task.isCancelled else { return .failed }
                let linked = await RelayTCPDialer.dial(
                    relay: relay, remote: remote, port: tcpPort, identity: identity, core: core,
                    timeout: dialTimeout - tcpDelay)
                return linked ? .tcp : .failed
            }
            group.addTask {
                try? await Task.sleep(for: dialTimeout)
                return nil
            }
            var failures = 0
            while let next = await group.next() {
                switch next {
                case .udp, .tcp:
                    group.cancelAll()
                    return next ?? .failed
                case .failed:
                    failures += 1
                    if failures == 2 {
                        group.cancelAll()
                        return .failed
                    }
                case nil:
                    group.cancelAll()
                    return .failed
                }
            }
            return .failed
        }
    }

    /// One QUIC dial, bounded by `dialTimeout`; nil when it failed.
    private static func dialUDP(relay: RelayAddress, remote: NetworkAddress, core: EndpointCore) async -> Connection? {
        await withTaskGroup(of: Connection?.self) { group in
            group.addTask {
                let token = WaiterToken()
                let result = await core.driver.performCancellable { driver, resumer in
                    driver.connectRelay(relay.endpointAddress, remote: remote, token: token, resumer: resumer)
                } onCancel: { driver in
                    driver.cancelConnect(token: token)
                }
                return try? result.get()
            }
            group.addTask {
                try? await Task.sleep(for: dialTimeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// A relay link as `Endpoint.relayStatus()` reports it.
public struct RelayStatus: Sendable, Hashable {
    /// The relay.
    public var relay: RelayAddress
    /// How the link reaches it.
    public var transport: RelayTransportKind
    /// Whether the relay answered hello (the link forwards packets).
    public var isReady: Bool
    /// Whether this is the home relay (the first one dialing by id alone tries).
    public var isHome: Bool
    /// The link's latest round-trip time.
    public var rtt: Duration?
    /// Packets sent and received through the relay, and packets dropped because the link could not take them.
    public var packetsSent: UInt64
    public var packetsReceived: UInt64
    public var packetsDropped: UInt64
    /// This endpoint's address as the relay observes it (QUIC address discovery), when it told us.
    public var observedAddress: HostPort?
}

extension EndpointDriver {
    /// Home relay choice with hysteresis (docs/relay.md §4.3).
    func updateHomeRelay() {
        let ready = relayState.links.values.filter(\.isReady)
        guard !ready.isEmpty else { return }
        let rtts = ready.map { ($0.relayID, relayRTT($0) ?? .seconds(1000)) }
        guard let best = rtts.min(by: { $0.1 < $1.1 }) else { return }
        if let home = relayState.homeRelay, let homeRTT = rtts.first(where: { $0.0 == home })?.1 {
            // Keep the home relay unless another is clearly better.
            guard best.1 * 3 < homeRTT * 2, homeRTT - best.1 > .milliseconds(5) else { return }
        }
        if relayState.homeRelay != best.0 {
            logger.info("home relay", metadata: ["relay": "\(best.0.shortDescription)"])
        }
        relayState.homeRelay = best.0
    }

    /// The status of every relay link.
    func relayStatuses(configured: [RelayAddress]) -> [RelayStatus] {
        configured.map { relay in
            let link = relayState.links[relay.id]
            var observed: HostPort?
            if let link, case .quic(let handle) = link.carrier {
                observed = relayObservedAddress(handle)
            }
            return RelayStatus(
                relay: relay,
                transport: link?.transportKind ?? .udp,
                isReady: link?.isReady ?? false,
                isHome: relayState.homeRelay == relay.id,
                rtt: link.flatMap(relayRTT),
                packetsSent: link?.packetsSent ?? 0,
                packetsReceived: link?.packetsReceived ?? 0,
                packetsDropped: link?.packetsDropped ?? 0,
                observedAddress: observed
            )
        }
    }

    /// Waits until some relay link is ready (resumed at once when one is, and when the endpoint closes).
    func waitForRelayLink(token: WaiterToken, resumer: Resumer<Void>) {
        if relayState.links.values.contains(where: \.isReady) || state != .open { return resumer.resume() }
        relayLinkWaiters.append(Waiter(token: token, resumer: resumer))
    }

    func cancelWaitForRelayLink(token: WaiterToken) {
        guard let index = relayLinkWaiters.firstIndex(where: { $0.token === token }) else { return }
        relayLinkWaiters.remove(at: index).resumer.resume()
    }

    /// The address a relay observed for this endpoint on a relay connection (QUIC address discovery).
    func relayObservedAddress(_ handle: ConnectionHandle) -> HostPort? {
        transport.connection(handle)?.observedAddress?.hostPort
    }
}

import FerryCrypto
import FerryTransport
import NIOCore
import NIOPosix

/// What `ferry netcheck` found out about this machine's network (like Tailscale's netcheck and iroh's net report).
public struct NetReport: Sendable, Codable, Equatable {
    /// One relay's measurements.
    public struct RelayProbe: Sendable, Codable, Equatable {
        /// `ID@host:port`.
        public var relay: String
        /// QUIC handshake time over UDP, nil when it failed.
        public var udpMilliseconds: Double?
        /// The relay connection's smoothed RTT after the handshake.
        public var udpRTTMilliseconds: Double?
        /// TLS handshake time over TCP, nil when it failed.
        public var tcpMilliseconds: Double?
        /// This machine's address as the relay saw the UDP socket (QUIC address discovery).
        public var observedAddress: String?
        /// Why UDP or TCP failed, if they did.
        public var errors: [String]

        enum CodingKeys: String, CodingKey {
            case relay
            case udpMilliseconds = "udp_ms"
            case udpRTTMilliseconds = "udp_rtt_ms"
            case tcpMilliseconds = "tcp_ms"
            case observedAddress = "observed_address"
            case errors
        }
    }

    /// Per relay, in the order given.
    public var relays: [RelayProbe]
    /// The distinct public addresses relays observed (one socket was used for all of them).
    public var publicAddresses: [String]
    /// Whether the NAT maps one socket to different public ports for different destinations (endpoint-dependent
    /// mapping, RFC 4787 §4.1: a "symmetric" NAT). Nil unless at least two relays observed the socket.
    public var mappingVariesByDestination: Bool?
    /// Whether UDP looks blocked: no relay answered over UDP while at least one answered over TCP.
    public var udpBlocked: Bool
    /// The relay with the lowest UDP (else TCP) handshake time.
    public var preferredRelay: String?

    enum CodingKeys: String, CodingKey {
        case relays
        case publicAddresses = "public_addresses"
        case mappingVariesByDestination = "mapping_varies_by_destination"
        case udpBlocked = "udp_blocked"
        case preferredRelay = "preferred_relay"
    }
}

/// Runs the measurements of `NetReport` from one UDP socket.
public enum NetCheck {
    /// Probes every relay over UDP and TCP (`tcpPort` nil: each relay's port), each attempt bounded by `timeout`.
    public static func run(
        relays: [RelayAddress], identity: EndpointIdentity, tcpPort: UInt16? = nil, timeout: Duration = .seconds(3)
    ) async throws(EndpointError) -> NetReport {
        let endpoint = try await Endpoint.bind(host: "0.0.0.0", port: 0, identity: identity, alpns: [])
        var probes: [NetReport.RelayProbe] = []
        for relay in relays {
            var probe = NetReport.RelayProbe(relay: relay.description, errors: [])
            let started = ContinuousClock.now
            let result = await withDeadline(timeout) {
                try await endpoint.connect(to: relay.endpointAddress, alpn: RelayMessage.alpn)
            }
            switch result {
            case .success(let connection):
                probe.udpMilliseconds = (ContinuousClock.now - started).milliseconds
                probe.udpRTTMilliseconds = await connection.stats.smoothedRTT.milliseconds
                // The relay reports the address with the handshake; give it one more RTT to arrive.
                let observed = await withDeadline(.milliseconds(500)) { () async throws -> HostPort in
                    while true {
                        if let address = await connection.observedAddress { return address }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
                if case .success(let address) = observed { probe.observedAddress = address.description }
                connection.close(code: RelayCloseCode.shutdown, reason: "netcheck done")
            case .failure(let reason):
                probe.errors.append("udp: \(reason)")
            }
            if let remote = Endpoint.resolve(relay.address, socketIsIPv6: false) {
                let tcpStarted = ContinuousClock.now
                switch await RelayTCPDialer.probe(
                    relay: relay, remote: remote, port: tcpPort ?? relay.address.port, identity: identity, timeout: timeout)
                {
                case .success: probe.tcpMilliseconds = (ContinuousClock.now - tcpStarted).milliseconds
                case .failure(let error): probe.errors.append("tcp: \(error)")
                }
            } else {
                probe.errors.append("cannot resolve \(relay.address.host)")
            }
            probes.append(probe)
        }
        await endpoint.close()
        let observed = probes.compactMap(\.observedAddress)
        let distinct = Array(Set(observed)).sorted()
        let reachable = probes.filter { $0.udpMilliseconds != nil || $0.tcpMilliseconds != nil }
        let preferred = reachable.min { ($0.udpMilliseconds ?? 1e9, $0.tcpMilliseconds ?? 1e9) < ($1.udpMilliseconds ?? 1e9, $1.tcpMilliseconds ?? 1e9) }
        return NetReport(
            relays: probes,
            publicAddresses: distinct,
            mappingVariesByDestination: observed.count >= 2 ? distinct.count > 1 : nil,
            udpBlocked: !probes.isEmpty && probes.allSatisfy { $0.udpMilliseconds == nil }
                && probes.contains { $0.tcpMilliseconds != nil },
            preferredRelay: preferred?.relay
        )
    }

    /// `body`'s value, or a failure naming the timeout.
    static func withDeadline<T: Sendable>(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async -> Result<T, NetCheckError> {
        await withTaskGroup(of: Result<T, NetCheckError>?.self) { group in
            group.addTask {
                do {
                    return .success(try await body())
                } catch {
                    return .failure(NetCheckError(reason: "\(error)"))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(NetCheckError(reason: "no answer within \(timeout)"))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(NetCheckError(reason: "cancelled"))
        }
    }
}

/// Why one netcheck probe failed.
public struct NetCheckError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}

extension RelayTCPDialer {
    /// A TLS handshake with the relay over TCP, then close: netcheck's TCP measurement (no link is registered).
    static func probe(
        relay: RelayAddress, remote: NetworkAddress, port: UInt16, identity: EndpointIdentity, timeout: Duration
    ) async -> Result<Void, NetCheckError> {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        switch await connectTLS(relay: relay, remote: remote, port: port, identity: identity, timeout: timeout, eventLoop: eventLoop) {
        case .success(let channel):
            channel.close(promise: nil)
            return .success(())
        case .failure(let error):
            return .failure(NetCheckError(reason: error.reason))
        }
    }
}

import FerryTransport
import NIOCore

/// Moving relayed connections onto direct paths (docs/nat-traversal.md): the runtime's half of hole punching.
///
/// The transport runs the protocol (ADD_ADDRESS, PUNCH_ME_NOW, probes, migration, fallback); the runtime decides
/// what to offer and when. Candidates are this socket's interface addresses (not loopback or link-local) and the
/// public addresses relays observed for it (QUIC address discovery). They are offered only once the connection's
/// `afterHandshake` hooks accepted the peer, and never in `.relayOnly` mode, so an unauthenticated or rejected peer
/// never learns them. The client starts a punching round as soon as the server's candidates arrive.
extension EndpointDriver {
    /// Called when an established connection is handed out (hooks accepted it): opens the candidate gate on a
    /// relayed connection, and as the client starts punching if the server's candidates are already known.
    func openCandidateGate(_ runtime: ConnectionRuntime) {
        guard configuration.pathMode == .auto, runtime.relayAddress == nil, !runtime.isCandidateGateOpen,
            let connection = transport.connection(runtime.handle),
            RelayAddressBook.isRelayed(connection.remoteAddress), connection.isNATTraversalNegotiated
        else { return }
        runtime.isCandidateGateOpen = true
        runtime.candidateGateOpenedAt = LoopClock.now()
        connection.setLocalCandidates(localCandidates())
        connection.allowCandidateAdvertisement()
        if runtime.side == .client { startPunching(runtime, connection: connection) }
        scheduleDrive()
    }

    /// The peer's candidates changed: a client with an open gate punches (again).
    func remoteCandidatesChanged(_ runtime: ConnectionRuntime) {
        guard runtime.side == .client, runtime.isCandidateGateOpen,
            let connection = transport.connection(runtime.handle)
        else { return }
        startPunching(runtime, connection: connection)
    }

    /// The endpoint's candidates may have changed: a relay observed a new public address, the socket was reopened
    /// or rebound, or (checked every `candidateCheckInterval` by the relay ticks) an interface address came or
    /// went. Each connection with an open gate gets the new list, and a client still relayed starts a fresh
    /// punching attempt (the transport keeps rounds `roundInterval` apart, so this cannot raise the probe rate).
    func refreshCandidates(reason: String) {
        lastCandidateCheck = LoopClock.now()
        let gated = connections.values.filter(\.isCandidateGateOpen)
        guard !gated.isEmpty else { return }
        let candidates = localCandidates()
        for runtime in gated {
            guard let connection = transport.connection(runtime.handle), !connection.isClosed,
                Set(connection.localCandidates) != Set(candidates)
            else { continue }
            connection.setLocalCandidates(candidates)
            logger.debug("candidates changed", metadata: [
                "handle": "\(runtime.handle)", "reason": "\(reason)", "candidates": "\(candidates)",
            ])
            guard runtime.side == .client else { continue }
            do {
                try connection.restartPunching(now: LoopClock.now())
            } catch {
                logger.debug("not punching", metadata: ["handle": "\(runtime.handle)", "reason": "\(error)"])
            }
        }
        scheduleDrive()
    }

    /// Called on each relay tick: refreshes candidates when `candidateCheckInterval` has passed since the last
    /// check, so an interface change is noticed without a netlink subscription.
    func checkCandidatesIfDue() {
        guard LoopClock.now() - lastCandidateCheck >= Self.candidateCheckInterval else { return }
        refreshCandidates(reason: "periodic check")
    }

    /// How often interface addresses are compared with the candidates offered.
    static let candidateCheckInterval: Duration = .seconds(10)

    /// Path changes: records when a relayed connection first sent on a punched direct path.
    func notePunchedPath(_ runtime: ConnectionRuntime) {
        guard runtime.timeToDirect == nil, let openedAt = runtime.candidateGateOpenedAt,
            let connection = transport.connection(runtime.handle), connection.isOnPunchedDirectPath
        else { return }
        let elapsed = LoopClock.now() - openedAt
        runtime.timeToDirect = elapsed
        logger.info("moved to a direct path", metadata: [
            "handle": "\(runtime.handle)", "to": "\(connection.remoteAddress)", "after": "\(elapsed)",
        ])
    }

    /// How long a connection took from being handed out on a relay to its first punched direct path.
    func timeToDirect(_ handle: ConnectionHandle) -> Duration? {
        connections[handle]?.timeToDirect
    }

    private func startPunching(_ runtime: ConnectionRuntime, connection: TransportConnection) {
        guard !connection.isOnPunchedDirectPath, !connection.remoteCandidates.isEmpty else { return }
        do {
            try connection.startPunching(now: LoopClock.now())
            logger.debug("punching", metadata: [
                "handle": "\(runtime.handle)", "candidates": "\(connection.remoteCandidates.map(\.address))",
            ])
            scheduleDrive()
        } catch {
            logger.debug("not punching", metadata: ["handle": "\(runtime.handle)", "reason": "\(error)"])
        }
    }

    /// This socket's candidate addresses: interface addresses of its family (or its bound address) with its port,
    /// and the addresses relays observed for it.
    func localCandidates() -> [NetworkAddress] {
        let local = localHostPort
        var candidates: [NetworkAddress] = []
        let socketIsIPv6 = local.host.contains(":")
        if let bound = local.ipAddress, !bound.allSatisfy({ $0 == 0 }) {
            if let address = NetworkAddress(ipBytes: bound, port: local.port) { candidates.append(address) }
        } else if let devices = try? System.enumerateDevices() {
            for device in devices {
                guard let address = device.address.flatMap(SocketAddressCache.convert),
                    Self.isUsableCandidate(address), socketIsIPv6 || address.isIPv4,
                    let candidate = NetworkAddress(ipBytes: address.ipBytes, port: local.port),
                    !candidates.contains(candidate)
                else { continue }
                candidates.append(candidate)
            }
        }
        for link in relayState.links.values {
            guard case .quic(let handle) = link.carrier, let observed = transport.connection(handle)?.observedAddress,
                !candidates.contains(observed)
            else { continue }
            candidates.append(observed)
        }
        return candidates
    }

    /// Not loopback, not link-local, not unspecified, not a relayed path's stand-in.
    static func isUsableCandidate(_ address: NetworkAddress) -> Bool {
        let bytes = address.ipBytes
        if address.isIPv4 {
            return bytes[0] != 127 && bytes[0] != 0 && !(bytes[0] == 169 && bytes[1] == 254)
        }
        let isLoopback = bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1
        let isUnspecified = bytes.allSatisfy { $0 == 0 }
        let isLinkLocal = bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80
        return !isLoopback && !isUnspecified && !isLinkLocal && !RelayAddressBook.isRelayed(address)
    }
}

import FerryTransport
import NIOCore

/// The driver's hook configuration and bookkeeping.
struct HookRuntimeState {
    /// The installed hooks.
    var chain = HookChain()
    /// Path events each subscriber may buffer before `.lagged`.
    var pathEventBufferCapacity = 64
    /// Incoming connections whose hooks have not decided yet (bounded like the incoming queue).
    var pendingIncomingDecisions = 0
    /// Whether the transport holds new attempts for the incoming filter (EndpointDriver+IncomingHold.swift), so
    /// the filter has already run by the time a handshake completes.
    var holdsIncoming = false
}

/// Where the hook chain meets the event loop (design.md, "Hook model").
///
/// The chain never runs on the loop: for each connection the driver starts one task that runs the incoming
/// filter (server side) and `afterHandshake`, and hops back with the verdict. Until then the connection is
/// established in the transport but not handed to the application, so nothing (no stream, no datagram) reaches
/// a connection that ends up rejected.
extension EndpointDriver {
    /// Creates the connection's observer and reports its first path; called when the handshake completes.
    func makeObserver(for runtime: ConnectionRuntime, transportConnection: TransportConnection) -> ConnectionObserver {
        if let observer = runtime.observer { return observer }
        let observer = ConnectionObserver(
            handle: runtime.handle,
            core: core,
            pathEventBufferCapacity: hookState.pathEventBufferCapacity
        )
        runtime.observer = observer
        let path = selectedPathInfo(of: transportConnection)
        observer.broadcaster.publish(.opened(path))
        observer.broadcaster.publish(.selected(path))
        return observer
    }

    /// Ends the connection's path events with the path's last counters.
    func finishPathEvents(_ runtime: ConnectionRuntime) {
        guard let observer = runtime.observer else { return }
        if let connection = transport.connection(runtime.handle) {
            let path = selectedPathInfo(of: connection)
            observer.broadcaster.publish(.closed(path.id, lastStats: path.stats))
        } else {
            observer.broadcaster.publish(.closed(PathID(rawValue: 0), lastStats: PathStats()))
        }
        observer.broadcaster.finish()
    }

    /// Snapshots of a connection's paths (RFC 9000 §9; Hooks/PathEventBroadcaster.swift).
    func pathSnapshots(_ handle: ConnectionHandle) -> [PathInfo] {
        guard let connection = transport.connection(handle), !connection.isClosed else { return [] }
        return pathInfos(of: connection)
    }

    /// The socket's local address.
    var localHostPort: HostPort {
        context?.channel.localAddress.flatMap(SocketAddressCache.convert)?.hostPort ?? HostPort(host: "0.0.0.0", port: 0)
    }

    /// Whether the handshake-complete `connection` must wait for the hook chain before being handed out.
    var hooksGateConnections: Bool { !hookState.chain.isEmpty }

    /// Runs the hooks for a connection whose handshake completed, off the loop; `hooksDecided` finishes.
    func runHooks(for connection: Connection, runtime: ConnectionRuntime, observer: ConnectionObserver) {
        if runtime.side == .server {
            guard hookState.pendingIncomingDecisions < configuration.incomingConnectionQueueLimit else {
                logger.debug("too many connections awaiting hooks, refusing", metadata: ["handle": "\(runtime.handle)"])
                transport.connection(runtime.handle)?.close(errorCode: 0x2, reason: "server busy", now: LoopClock.now())
                scheduleDrive()
                return
            }
            hookState.pendingIncomingDecisions += 1
        }
        let chain = hookState.chain
        let local = localHostPort
        let view = HookConnection(
            remoteID: connection.remoteID,
            alpn: connection.alpn,
            side: connection.side,
            remoteAddress: connection.remoteAddress,
            localAddress: local,
            source: observer
        )
        let bound = loopBound
        // When the transport held the attempt, the incoming filter already ran before the handshake.
        let runsIncomingFilter = runtime.side == .server && !hookState.holdsIncoming
        Task { [chain, view, local, bound, connection] in
            guard runsIncomingFilter else {
                // The common case: afterHandshake only, run in this task, its decision delivered to the loop.
                await chain.runAfterHandshake(view) { decision in
                    let verdict = HookGate.verdict(afterHandshake: decision)
                    bound.eventLoop.execute { bound.value.hooksDecided(connection, verdict: verdict) }
                }
                return
            }
            let verdict = await HookGate.decide(
                chain: chain, view: view, localAddress: local, runsIncomingFilter: runsIncomingFilter)
            bound.eventLoop.execute { bound.value.hooksDecided(connection, verdict: verdict) }
        }
    }

    /// Back on the loop with the chain's verdict: hand the connection out, or close it with the hook's code.
    func hooksDecided(_ connection: Connection, verdict: HookVerdict?) {
        if connection.side == .server { hookState.pendingIncomingDecisions -= 1 }
        guard let runtime = connections[connection.handle], case .established = runtime.phase else {
            // Closed while the hooks ran; whoever waited has been told.
            return
        }
        guard let verdict else {
            deliverEstablished(connection, runtime: runtime)
            return
        }
        logger.info(
            "connection rejected by hook",
            metadata: [
                "peer": "\(connection.remoteID.shortDescription)", "alpn": "\(connection.alpn)",
                "side": "\(connection.side)", "hook": "\(verdict.rejection)",
            ]
        )
        transport.connection(runtime.handle)?.close(
            errorCode: verdict.errorCode,
            reason: verdict.reason,
            now: LoopClock.now()
        )
        if let waiter = runtime.connectWaiter {
            runtime.connectWaiter = nil
            waiter.resume(returning: .failure(.locallyRejected(verdict.rejection)))
        }
        scheduleDrive()
    }
}

/// A hook chain's verdict on one connection: why and how to close it (nil verdict = accept).
struct HookVerdict: Sendable {
    let rejection: HookRejection
    let errorCode: UInt64
    let reason: String
}

/// The off-loop half of the hook gate: runs the chain stages for one connection.
enum HookGate {
    /// Runs `afterHandshake`, preceded by the incoming filter when it could not run before the handshake.
    ///
    /// Normally the transport holds new attempts and the filter runs first (`processIncomingAttempts`). If it
    /// did not (an endpoint configured without holding), the filter runs here, after the handshake, where the
    /// address is validated (RFC 9000 §8.1): `.retry` has nothing left to prove and counts as accept, and
    /// `.ignore` cannot be silent any more and closes like `.reject`.
    static func decide(
        chain: HookChain,
        view: HookConnection,
        localAddress: HostPort,
        runsIncomingFilter: Bool
    ) async -> HookVerdict? {
        if runsIncomingFilter {
            let info = IncomingInfo(
                remoteAddress: view.remoteAddress,
                localAddress: localAddress,
                isAddressValidated: true,
                alpns: [view.alpn]
            )
            let incoming = await chain.runIncoming(info)
            switch incoming.outcome {
            case .accept, .retry:
                break
            case .reject, .ignore:
                let hook = incoming.decidedBy ?? HookIdentity(position: 0, typeName: "HookChain")
                return HookVerdict(
                    rejection: HookRejection(stage: .incoming, hook: hook, failure: incoming.failure),
                    errorCode: chain.failureErrorCode,
                    reason: incoming.reason
                )
            }
        }
        return verdict(afterHandshake: await chain.runAfterHandshake(view))
    }

    /// The verdict for an `afterHandshake` decision: nil to accept, else how to close.
    static func verdict(afterHandshake decision: HookDecision<AfterHandshakeOutcome>) -> HookVerdict? {
        switch decision.outcome {
        case .accept:
            return nil
        case .reject(let code, let reason):
            let hook = decision.decidedBy ?? HookIdentity(position: 0, typeName: "HookChain")
            return HookVerdict(
                rejection: HookRejection(stage: .afterHandshake, hook: hook, failure: decision.failure),
                errorCode: code,
                reason: reason
            )
        }
    }
}

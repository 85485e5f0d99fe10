import FerryTransport

/// The incoming filter before the handshake: the transport holds each new attempt (`holdsIncoming`) until the
/// chain's `incoming` stage decides, so a refused or ignored attempt costs no TLS work.
extension EndpointDriver {
    /// Starts the incoming filter for every attempt the transport is holding; called on each drive.
    func processIncomingAttempts() {
        while let attempt = transport.pollIncoming() {
            guard state == .open,
                hookState.pendingIncomingDecisions < configuration.incomingConnectionQueueLimit
            else {
                transport.ignoreIncoming(attempt.id)
                continue
            }
            hookState.pendingIncomingDecisions += 1
            let info = IncomingInfo(
                remoteAddress: attempt.remoteAddress.hostPort,
                localAddress: localHostPort,
                // No Retry or NEW_TOKEN validation exists yet, so the address is unproven (RFC 9000 §8.1).
                isAddressValidated: false,
                // Reading the ClientHello's ALPN list needs the Initial decrypted; not done before the decision.
                alpns: []
            )
            let chain = hookState.chain
            let bound = loopBound
            Task {
                let decision = await chain.runIncoming(info)
                bound.eventLoop.execute { bound.value.incomingDecided(attempt, decision: decision) }
            }
        }
    }

    /// Back on the loop with the filter's decision for a held attempt.
    func incomingDecided(_ attempt: IncomingAttempt, decision: HookDecision<IncomingOutcome>) {
        hookState.pendingIncomingDecisions -= 1
        guard state == .open else { return transport.ignoreIncoming(attempt.id) }
        switch decision.outcome {
        case .accept, .retry:
            // Retry (RFC 9000 §8.1.2) is not implemented by the transport; the attempt proceeds unvalidated.
            transport.acceptIncoming(attempt.id, now: LoopClock.now())
        case .ignore:
            logger.debug("incoming attempt ignored", metadata: ["remote": "\(attempt.remoteAddress)", "hook": "\(decision.reason)"])
            transport.ignoreIncoming(attempt.id)
        case .reject:
            logger.info("incoming attempt refused", metadata: ["remote": "\(attempt.remoteAddress)", "hook": "\(decision.reason)"])
            // The transport has no stateless refusal yet: start the connection and close it at once, so the
            // client gets CONNECTION_CLOSE in its first server flight instead of waiting for a timeout.
            let now = LoopClock.now()
            if let handle = transport.acceptIncoming(attempt.id, now: now) {
                transport.connection(handle)?.close(
                    errorCode: hookState.chain.failureErrorCode, reason: decision.reason, now: now)
            }
        }
        scheduleDrive()
    }
}

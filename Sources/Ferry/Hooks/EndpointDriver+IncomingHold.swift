import FerryTransport

/// The incoming filter before the handshake: the transport holds each new attempt (`holdsIncoming`) until the
/// chain's `incoming` stage decides, so a refused, retried or ignored attempt costs no TLS work and leaves no
/// connection state (RFC 9000 §8.1.2, §10.2.3).
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
                // A valid Retry or NEW_TOKEN token in the Initial proves the address (RFC 9000 §8.1).
                isAddressValidated: attempt.isAddressValidated,
                // Read from the first Initial's ClientHello, best effort (RFC 7301 §3.1).
                alpns: attempt.alpns.map { String(decoding: $0, as: UTF8.self) }
            )
            let chain = hookState.chain
            let bound = loopBound
            Task {
                // Delivering form: the hooks run in this task (no worker task per run; HookChain+Delivering.swift).
                await chain.runIncoming(info) { decision in
                    bound.eventLoop.execute { bound.value.incomingDecided(attempt, decision: decision) }
                }
            }
        }
    }

    /// Back on the loop with the filter's decision for a held attempt.
    func incomingDecided(_ attempt: IncomingAttempt, decision: HookDecision<IncomingOutcome>) {
        hookState.pendingIncomingDecisions -= 1
        guard state == .open else { return transport.ignoreIncoming(attempt.id) }
        switch decision.outcome {
        case .accept:
            transport.acceptIncoming(attempt.id, now: LoopClock.now())
        case .retry:
            // A Retry (RFC 9000 §8.1.2) makes the client come back with a token, as a new, validated attempt that
            // the chain sees again; an attempt that is already validated has nothing left to prove: accept it.
            logger.debug("incoming attempt retried", metadata: [
                "remote": "\(attempt.remoteAddress)", "validated": "\(attempt.isAddressValidated)",
            ])
            transport.retryIncoming(attempt.id, now: LoopClock.now())
        case .ignore:
            logger.debug("incoming attempt ignored", metadata: ["remote": "\(attempt.remoteAddress)", "hook": "\(decision.reason)"])
            transport.ignoreIncoming(attempt.id)
        case .reject:
            logger.info("incoming attempt refused", metadata: ["remote": "\(attempt.remoteAddress)", "hook": "\(decision.reason)"])
            // Stateless: one Initial with CONNECTION_CLOSE (CONNECTION_REFUSED) and the hook's reason, no
            // connection state (RFC 9000 §10.2.3); the client fails at once instead of timing out.
            transport.refuseIncoming(attempt.id, reason: decision.reason, now: LoopClock.now())
        }
        scheduleDrive()
    }
}

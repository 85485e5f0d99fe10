/// Connection termination (RFC 9000 §10): immediate close with closing and draining periods, idle timeout.
extension TransportConnection {
    /// Closes because of a local transport error, or a TLS failure mapped to CRYPTO_ERROR (RFC 9001 §4.8).
    func closeWithError(_ error: TransportError, now: Instant) {
        guard state != .closing, state != .draining, state != .closed else { return }
        let reason: ConnectionCloseReason
        if (0x0100...0x01ff).contains(error.code.rawValue) {
            reason = .tlsFailure(alert: UInt8(error.code.rawValue - 0x0100), reason: error.reason, by: .local)
        } else {
            reason = .transportError(error, by: .local)
        }
        startClosing(
            ConnectionCloseFrame(
                isApplicationError: false, errorCode: error.code.rawValue, frameType: error.frameType ?? 0,
                reasonPhrase: ArraySlice(error.reason.utf8.prefix(256))),
            reason: reason, now: now)
    }

    /// Closes at the application's request with CONNECTION_CLOSE 0x1d (RFC 9000 §10.2).
    func closeByApplication(errorCode: UInt64, reason: String, now: Instant) {
        guard state != .closing, state != .draining, state != .closed else { return }
        startClosing(
            ConnectionCloseFrame(
                isApplicationError: true, errorCode: errorCode, frameType: 0,
                reasonPhrase: ArraySlice(reason.utf8.prefix(256))),
            reason: .applicationClosed(errorCode: errorCode, reason: reason, by: .local), now: now)
    }

    private func startClosing(_ frame: ConnectionCloseFrame, reason: ConnectionCloseReason, now: Instant) {
        closeDrainingPaths()
        closeFrame = frame
        closeReason = reason
        streams.close()
        // Before any packet could have been sent there is nobody to tell.
        let hasKeys = spaces.contains { $0.localKeys != nil && !$0.isDiscarded }
        guard hasKeys else {
            enterClosed(now: now)
            return
        }
        state = .closing
        isClosePending = true
        closeDeadline = now + recovery.rtt.probeTimeoutBase * 3
        events.append(.closed(reason))
        closeReasonReported = true
    }

    /// The peer sent CONNECTION_CLOSE: enter the draining period (RFC 9000 §10.2.2).
    func handlePeerClose(_ frame: ConnectionCloseFrame, now: Instant) {
        let reasonText = String(decoding: frame.reasonPhrase, as: UTF8.self)
        let reason: ConnectionCloseReason
        if frame.isApplicationError {
            reason = .applicationClosed(errorCode: frame.errorCode, reason: reasonText, by: .peer)
        } else if (0x0100...0x01ff).contains(frame.errorCode) {
            reason = .tlsFailure(alert: UInt8(frame.errorCode - 0x0100), reason: reasonText, by: .peer)
        } else {
            reason = .transportError(
                TransportError(
                    TransportError.Code(rawValue: frame.errorCode),
                    frameType: frame.frameType == 0 ? nil : frame.frameType, reason: reasonText),
                by: .peer)
        }
        enterDraining(reason: reason, now: now)
    }

    /// Stops sending and waits out 3 × PTO so late packets are absorbed (RFC 9000 §10.2.2).
    func enterDraining(reason: ConnectionCloseReason, now: Instant) {
        guard state != .draining, state != .closed else { return }
        closeDrainingPaths()
        if closeReason == nil { closeReason = reason }
        if !closeReasonReported {
            events.append(.closed(reason))
            closeReasonReported = true
        }
        streams.close()
        state = .draining
        isClosePending = false
        closeDeadline = now + recovery.rtt.probeTimeoutBase * 3
    }

    /// The connection is gone: no more packets; the endpoint removes it.
    func enterClosed(now: Instant) {
        closeDrainingPaths()
        if !closeReasonReported, let closeReason {
            events.append(.closed(closeReason))
            closeReasonReported = true
        }
        streams.close()
        state = .closed
        isClosePending = false
        closeDeadline = nil
        for issued in localConnectionIDs.issued {
            endpointActions.append(.removeConnectionID(issued.connectionID))
        }
    }

    /// The idle timer fired (RFC 9000 §10.1): close silently.
    func handleIdleTimeout(now: Instant) {
        if closeReason == nil { closeReason = .idleTimeout }
        enterClosed(now: now)
    }
}

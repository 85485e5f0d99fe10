import FerryTransport
import NIOCore

extension EndpointDriver {
    /// Drains `pollEvent()` and turns each event into resumed tasks (design.md: events → API objects).
    func processEvents() {
        while let (handle, event) = transport.pollEvent() {
            let runtime: ConnectionRuntime
            if let existing = connections[handle] {
                runtime = existing
            } else {
                // The transport created a server connection while handling a datagram; the runtime learns of it
                // from its first event.
                guard let connection = transport.connection(handle) else { continue }
                runtime = ConnectionRuntime(handle: handle, side: connection.side)
                connections[handle] = runtime
            }
            dispatch(event: event, runtime: runtime)
        }
    }

    private func dispatch(event: ConnectionEvent, runtime: ConnectionRuntime) {
        logger.trace("event", metadata: ["handle": "\(runtime.handle)", "event": "\(event)"])
        if !relayState.linksByHandle.isEmpty, handleRelayEvent(event, runtime: runtime) { return }
        switch event {
        case .handshakeCompleted:
            isHandshakeFlushDue = true
            handshakeCompleted(runtime)
        case .streamOpened(let stream):
            streamOpened(stream, runtime: runtime)
        case .streamReadable(let stream):
            if let waiter = runtime.readWaiters.removeValue(forKey: stream) {
                attemptRead(runtime: runtime, stream: stream, waiter: waiter)
            }
        case .streamWritable(let stream):
            if let write = runtime.pendingWrites.removeValue(forKey: stream) {
                continueWrite(runtime: runtime, stream: stream, write: write)
            }
        case .streamStopped(let stream, let errorCode):
            runtime.sendSidesDone.insert(stream)
            if let write = runtime.pendingWrites.removeValue(forKey: stream) {
                write.resumer.resume(returning: .failure(.stopped(errorCode: errorCode)))
            } else {
                runtime.peerStreamErrors[stream] = .stopped(errorCode: errorCode)
            }
        case .streamReset(let stream, let errorCode):
            runtime.receiveSidesDone.insert(stream)
            if let waiter = runtime.readWaiters.removeValue(forKey: stream) {
                waiter.resumer.resume(returning: .failure(.reset(errorCode: errorCode)))
            } else {
                runtime.peerStreamErrors[stream] = .reset(errorCode: errorCode)
            }
        case .streamsAvailable(let bidirectional):
            retryOpenWaiters(runtime: runtime, bidirectional: bidirectional)
        case .datagramReceived:
            deliverDatagrams(runtime: runtime)
        case .pathsChanged:
            publishPathEvents(runtime)
        case .observedAddressChanged(let address):
            runtime.observedAddress = address
            // A relay saw this socket at a new public address: a new server-reflexive candidate.
            if runtime.relayAddress != nil { refreshCandidates(reason: "relay observed \(address)") }
        case .remoteCandidatesChanged:
            remoteCandidatesChanged(runtime)
        case .closed(let reason):
            connectionClosed(runtime, reason: reason)
        }
    }

    private func handshakeCompleted(_ runtime: ConnectionRuntime) {
        guard case .handshaking = runtime.phase, let transportConnection = transport.connection(runtime.handle)
        else { return }
        runtime.phase = .established
        guard let peer = transportConnection.peerIdentity else {
            // Mutual TLS always yields a peer identity; without one the connection cannot be handed out.
            transportConnection.close(errorCode: 0x1, reason: "no peer identity", now: LoopClock.now())
            return
        }
        guard let core else {
            transportConnection.close(errorCode: 0, reason: "endpoint closed", now: LoopClock.now())
            return
        }
        let alpn = String(decoding: transportConnection.negotiatedALPN ?? [], as: UTF8.self)
        let connection = Connection(
            core: core,
            handle: runtime.handle,
            remoteID: peer,
            alpn: alpn,
            side: runtime.side,
            remoteAddress: displayAddress(of: transportConnection.remoteAddress)
        )
        runtime.isPublished = true
        logger.debug(
            "connection established",
            metadata: ["peer": "\(peer.shortDescription)", "alpn": "\(alpn)", "side": "\(runtime.side)"]
        )
        if let relayAddress = runtime.relayAddress {
            // A relay connection: infrastructure the configuration named, so no hooks and no observer.
            registerRelayLink(runtime, connection: transportConnection, address: relayAddress)
            return deliverEstablished(connection, runtime: runtime)
        }
        let observer = makeObserver(for: runtime, transportConnection: transportConnection)
        if hooksGateConnections {
            // Held back until the hook chain accepts it (Hooks/EndpointDriver+Hooks.swift).
            runHooks(for: connection, runtime: runtime, observer: observer)
        } else {
            deliverEstablished(connection, runtime: runtime)
        }
    }

    /// Hands an established (and, with hooks, accepted) connection to `connect` or the incoming queue.
    func deliverEstablished(_ connection: Connection, runtime: ConnectionRuntime) {
        let peer = connection.remoteID
        openCandidateGate(runtime)
        switch runtime.side {
        case .client:
            if let waiter = runtime.connectWaiter {
                runtime.connectWaiter = nil
                waiter.resume(returning: .success(connection))
            }
        case .server:
            if state != .open {
                return
            } else if let waiter = incomingWaiters.popFirst() {
                waiter.resumer.resume(returning: .success(connection))
            } else if incomingQueue.count < configuration.incomingConnectionQueueLimit {
                incomingQueue.append(connection)
            } else {
                logger.debug("incoming queue full, refusing connection", metadata: ["peer": "\(peer.shortDescription)"])
                transport.connection(runtime.handle)?.close(errorCode: 0x2, reason: "server busy", now: LoopClock.now())
                scheduleDrive()
            }
        }
    }

    private func streamOpened(_ stream: StreamID, runtime: ConnectionRuntime) {
        if stream.isBidirectional {
            if let waiter = runtime.bidirectionalAcceptWaiters.popFirst() {
                waiter.resumer.resume(returning: .success(stream))
            } else {
                runtime.incomingBidirectional.append(stream)
            }
        } else {
            if let waiter = runtime.unidirectionalAcceptWaiters.popFirst() {
                waiter.resumer.resume(returning: .success(stream))
            } else {
                runtime.incomingUnidirectional.append(stream)
            }
        }
    }

    private func retryOpenWaiters(runtime: ConnectionRuntime, bidirectional: Bool) {
        guard let connection = transport.connection(runtime.handle) else { return }
        while true {
            let isEmpty =
                bidirectional ? runtime.bidirectionalOpenWaiters.isEmpty : runtime.unidirectionalOpenWaiters.isEmpty
            if isEmpty { return }
            guard let stream = connection.openStream(bidirectional: bidirectional) else { return }
            let waiter =
                bidirectional
                ? runtime.bidirectionalOpenWaiters.removeFirst() : runtime.unidirectionalOpenWaiters.removeFirst()
            waiter.resumer.resume(returning: .success(stream))
        }
    }

    func deliverDatagrams(runtime: ConnectionRuntime) {
        guard let connection = transport.connection(runtime.handle) else { return }
        switchDatagrams(runtime)
        while !runtime.datagramWaiters.isEmpty, let datagram = nextReceivedDatagram(runtime, connection) {
            runtime.datagramWaiters.removeFirst().resumer.resume(returning: .success(datagram))
        }
    }

    private func connectionClosed(_ runtime: ConnectionRuntime, reason: ConnectionCloseReason) {
        if case .closed = runtime.phase { return }
        logger.debug("connection closed", metadata: ["handle": "\(runtime.handle)", "reason": "\(reason)"])
        runtime.phase = .closed(reason)
        if let relayAddress = runtime.relayAddress {
            relayLinkClosed(relay: relayAddress.id, carrierHandle: runtime.handle)
        }
        finishPathEvents(runtime)
        runtime.failAllWaiters(.closed(reason))
        runtime.resumeClosedWaiters(reason)
        if !runtime.isPublished || runtime.isReleased {
            connections.removeValue(forKey: runtime.handle)
        }
    }
}

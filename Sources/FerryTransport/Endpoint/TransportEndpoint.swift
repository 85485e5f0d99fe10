/// A QUIC endpoint: routes datagrams to connections, accepts incoming connections, and multiplexes their output.
///
/// The sans-IO counterpart of quinn-proto's `Endpoint` (design.md): the runtime feeds it datagrams and timeouts
/// and polls it for datagrams, events and the next deadline. Not thread-safe; owned by one event loop. Its
/// stored properties are `@exclusivity(unchecked)` for the reason `TransportConnection` gives.
public final class TransportEndpoint {
    let context: EndpointContext
    @exclusivity(unchecked) var connections: [ConnectionHandle: TransportConnection] = [:]
    /// Local connection IDs (and a server connection's original DCID) → connection (RFC 9000 §5.2).
    @exclusivity(unchecked) var routes: [ConnectionID: TransportConnection] = [:]
    /// The peers' stateless reset tokens → connection, for datagrams no connection ID matches (RFC 9000 §10.3.1).
    @exclusivity(unchecked) var resetTokens: [StatelessResetToken: TransportConnection] = [:]
    @exclusivity(unchecked) var nextHandle: UInt64 = 1
    /// Connections that may have something to send, in round-robin order.
    @exclusivity(unchecked) var sendQueue: [TransportConnection] = []
    @exclusivity(unchecked) var sendQueueHead = 0
    /// Connections with queued events, in order.
    @exclusivity(unchecked) var eventQueue: [TransportConnection] = []
    @exclusivity(unchecked) var eventQueueHead = 0
    /// Deadlines of all connections.
    @exclusivity(unchecked) var timers = TimerHeap()
    @exclusivity(unchecked) var dueScratch: [TransportConnection] = []
    /// Connections touched by application commands since the endpoint last looked at them.
    let scheduler = ConnectionScheduler()
    /// Stateless datagrams to send (Version Negotiation, Retry, stateless reset, refusals), bounded.
    @exclusivity(unchecked) var statelessTransmits: [(destination: NetworkAddress, bytes: [UInt8])] = []
    static let maxStatelessTransmits = 64
    /// Start of the current one-second window of the stateless-reset rate limit (RFC 9000 §10.3).
    @exclusivity(unchecked) var statelessResetWindowStart = Instant.zero
    @exclusivity(unchecked) var statelessResetsInWindow = 0
    /// Client: NEW_TOKEN tokens received from servers, by server address (RFC 9000 §8.1.3).
    @exclusivity(unchecked) var addressTokens: [NetworkAddress: [UInt8]] = [:]
    /// Local connection IDs retired lately: packets still arriving for them get no stateless reset (§10.3).
    @exclusivity(unchecked) var retiredConnectionIDs = RecentConnectionIDs()

    /// Retry packets sent (RFC 9000 §8.1.2).
    @exclusivity(unchecked) public internal(set) var retriesSent: UInt64 = 0
    /// Stateless resets sent (RFC 9000 §10.3).
    @exclusivity(unchecked) public internal(set) var statelessResetsSent: UInt64 = 0

    /// Datagrams dropped because they could not be routed or parsed.
    @exclusivity(unchecked) public internal(set) var droppedDatagrams: UInt64 = 0
    /// Server connections whose handshake is still in progress (`AddressValidationConfig.retryAboveHandshakes`).
    @exclusivity(unchecked) public internal(set) var incomingHandshakes = 0
    /// Retries sent because `incomingHandshakes` reached `retryAboveHandshakes` (also counted in `retriesSent`).
    @exclusivity(unchecked) public internal(set) var loadRetriesSent: UInt64 = 0

    /// Whether new connection attempts wait for the application's decision (`pollIncoming`, `acceptIncoming`,
    /// `ignoreIncoming`) instead of starting a handshake at once; see TransportEndpoint+Incoming.swift.
    @exclusivity(unchecked) public var holdsIncoming = false
    /// Held attempts by original Destination Connection ID, with their ids in arrival order.
    @exclusivity(unchecked) var heldIncoming: [ConnectionID: HeldIncoming] = [:]
    @exclusivity(unchecked) var heldIncomingIDs: [UInt64: ConnectionID] = [:]
    @exclusivity(unchecked) var unreportedIncoming: [IncomingAttempt] = []
    @exclusivity(unchecked) var nextIncomingID: UInt64 = 1

    /// Creates an endpoint; it accepts incoming connections when `config.acceptsIncoming` is true.
    public init(config: EndpointConfig) {
        self.context = EndpointContext(config: config)
    }

    /// How many connections the endpoint tracks, including closing and draining ones.
    public var connectionCount: Int { connections.count }

    /// The connection behind `handle`, or nil once it has been removed.
    public func connection(_ handle: ConnectionHandle) -> TransportConnection? {
        connections[handle]
    }

    // MARK: Input

    /// Processes one received UDP datagram (RFC 9000 §5.2).
    ///
    /// Routes by destination connection ID; creates a server connection for a valid client Initial in a datagram
    /// of at least 1200 bytes; answers unknown versions with Version Negotiation (RFC 9000 §6); drops anything
    /// else. Bad input never throws: it is dropped and counted.
    public func handle(datagram: consuming [UInt8], from remote: NetworkAddress, ecn: UInt8 = 0, now: Instant) {
        var datagram = datagram
        handle(datagram: &datagram, from: remote, ecn: ecn, now: now)
    }

    /// Like `handle(datagram:from:ecn:now:)`, but leaves the array with the caller, which may reuse its storage
    /// for the next datagram (the runtime's receive path does, to avoid an allocation per datagram). Packets are
    /// decrypted in place, so the contents afterwards are unspecified.
    public func handle(datagram: inout [UInt8], from remote: NetworkAddress, ecn: UInt8 = 0, now: Instant) {
        let cidLength = context.config.connectionIDLength
        guard let destination = try? PacketHeader.destinationConnectionID(
            in: datagram, shortHeaderConnectionIDLength: cidLength)
        else {
            droppedDatagrams += 1
            return
        }
        if let connection = routes[destination] {
            // A client drops what does not come from its server's address (RFC 9000 §9): no state, no ACK.
            guard connection.acceptsDatagram(from: remote) else {
                droppedDatagrams += 1
                return
            }
            connection.handle(datagram: &datagram, from: remote, ecn: ecn, now: now)
            afterActivity(connection, now: now)
            return
        }
        // Unknown connection ID: a stateless reset from a peer that lost our state (RFC 9000 §10.3.1)...
        if datagram[0] & PacketHeader.longHeaderBit == 0, datagram.count >= 21, !resetTokens.isEmpty,
            let token = StatelessResetToken(datagram[(datagram.count - 16)...]),
            let connection = resetTokens[token],
            // Only tokens of connection IDs still in use count (RFC 9000 §10.3.1: never those of retired IDs).
            connection.peerConnectionIDs.matchesResetToken(token)
        {
            guard connection.acceptsDatagram(from: remote) else {
                droppedDatagrams += 1
                return
            }
            connection.handleStatelessReset()
            afterActivity(connection, now: now)
            return
        }
        // ... or a packet of a connection we lost: answer with a stateless reset (RFC 9000 §10.3) ...
        if datagram[0] & PacketHeader.longHeaderBit == 0 {
            droppedDatagrams += 1
            sendStatelessReset(triggerLength: datagram.count, destination: destination, to: remote, now: now)
            return
        }
        // ... or, with a long header, a new connection (RFC 9000 §5.2.2).
        guard let header = try? PacketHeader.parse(datagram, at: 0, shortHeaderConnectionIDLength: cidLength) else {
            droppedDatagrams += 1
            return
        }
        if header.type != .versionNegotiation && header.version != QUICVersion.version1 {
            respondWithVersionNegotiation(to: header, datagramLength: datagram.count, from: remote)
            return
        }
        guard context.config.acceptsIncoming, header.type == .initial, datagram.count >= 1200,
            header.destinationConnectionID.count >= 8
        else {
            droppedDatagrams += 1
            return
        }
        // Address validation (RFC 9000 §8.1): a token proves the address; without one, Retry if required.
        let validation = context.tokens.validate(
            header.token, remote: remote, destination: header.destinationConnectionID, now: now)
        switch validation {
        case .invalidRetry:
            sendStatelessClose(to: header, from: remote, code: .invalidToken, reason: "invalid retry token")
            return
        case .absent, .invalid:
            if context.config.requiresAddressValidation {
                sendRetry(for: header, from: remote, now: now)
                return
            }
            if let limit = context.config.addressValidation.retryAboveHandshakes, incomingHandshakes >= limit {
                loadRetriesSent += 1
                sendRetry(for: header, from: remote, now: now)
                return
            }
        case .retry, .newToken:
            break
        }
        if holdsIncoming {
            holdIncoming(header, datagram: datagram, from: remote, ecn: ecn, validation: validation)
            return
        }
        guard let connection = acceptConnection(header, from: remote, validation: validation, now: now) else {
            droppedDatagrams += 1
            return
        }
        connection.handle(datagram: &datagram, from: remote, ecn: ecn, now: now)
        afterActivity(connection, now: now)
    }

    /// Answers a long-header packet of an unknown version with the versions we support (RFC 9000 §6.1).
    private func respondWithVersionNegotiation(to header: PacketHeader, datagramLength: Int, from remote: NetworkAddress) {
        // Only datagrams large enough to be a client's first flight get an answer (RFC 9000 §6.1, §14.1).
        guard datagramLength >= 1200, statelessTransmits.count < Self.maxStatelessTransmits else {
            droppedDatagrams += 1
            return
        }
        let response = PacketWriter.encodeVersionNegotiation(
            destinationConnectionID: header.sourceConnectionID, sourceConnectionID: header.destinationConnectionID,
            supportedVersions: QUICVersion.supported + [0x1A2A_3A4A])
        statelessTransmits.append((remote, response))
    }

    /// Creates a server connection for a client's first Initial (RFC 9000 §7.2).
    ///
    /// After a Retry, `validation` carries the original Destination Connection ID and the Retry's Source
    /// Connection ID, which the transport parameters must echo (RFC 9000 §7.3); Initial keys come from the
    /// Destination Connection ID the client uses now (RFC 9001 §5.2).
    func acceptConnection(
        _ header: PacketHeader, from remote: NetworkAddress, validation: AddressTokenValidation = .absent,
        now: Instant
    ) -> TransportConnection? {
        let config = context.config
        let localConnectionID = context.makeConnectionID()
        let currentDestination = header.destinationConnectionID
        var originalDestination = currentDestination
        var parameters = TransportConnection.makeLocalTransportParameters(
            config: config.transport, side: .server, sourceConnectionID: localConnectionID,
            originalDestinationConnectionID: originalDestination,
            resetToken: context.resetToken(for: localConnectionID))
        if case .retry(let original, let retrySource) = validation {
            originalDestination = original
            parameters.originalDestinationConnectionID = original
            parameters.retrySourceConnectionID = retrySource
        }
        guard let keys = try? config.crypto.makeInitialKeys(
            destinationConnectionID: currentDestination.bytes, side: .server),
            let session = try? config.crypto.makeServerSession(localTransportParameters: parameters.encoded())
        else { return nil }
        let handle = ConnectionHandle(rawValue: nextHandle)
        nextHandle += 1
        let connection = TransportConnection(
            side: .server, handle: handle, remoteAddress: remote, context: context,
            localConnectionID: localConnectionID, peerConnectionID: header.sourceConnectionID,
            originalDestinationConnectionID: originalDestination, handshake: session,
            localTransportParameters: parameters, initialKeys: keys, now: now)
        // A valid token proves the address: no amplification limit (RFC 9000 §8.1).
        if validation.isValidated { connection.isAddressValidated = true }
        register(connection)
        addRoute(localConnectionID, to: connection)
        addRoute(currentDestination, to: connection)
        connection.isCountedIncomingHandshake = true
        incomingHandshakes += 1
        return connection
    }

    /// Starts a client connection to `remote`, which must prove it holds `expectedPeer`'s key (mutual TLS).
    ///
    /// The first Initial is produced by the next `pollTransmit`. `alpns` are offered in preference order. The
    /// first Destination Connection ID is random and at least 8 bytes (RFC 9000 §7.2). A NEW_TOKEN token stored
    /// for `remote` (see `addressToken(for:)`) is sent in the Initial to skip address validation (§8.1.3).
    public func connect(
        to remote: NetworkAddress,
        expectedPeer: EndpointID,
        alpns: [[UInt8]],
        now: Instant
    ) throws(TransportError) -> ConnectionHandle {
        let config = context.config
        let originalDestination = context.makeConnectionID(length: max(8, config.connectionIDLength))
        let localConnectionID = context.makeConnectionID()
        let parameters = TransportConnection.makeLocalTransportParameters(
            config: config.transport, side: .client, sourceConnectionID: localConnectionID,
            originalDestinationConnectionID: nil, resetToken: nil)
        let keys: PacketKeyPair
        let session: any HandshakeSession
        do {
            keys = try config.crypto.makeInitialKeys(destinationConnectionID: originalDestination.bytes, side: .client)
        } catch {
            throw TransportError(.internalError, reason: "initial keys: \(error)")
        }
        do {
            session = try config.crypto.makeClientSession(
                expectedPeer: expectedPeer, alpns: alpns, localTransportParameters: parameters.encoded())
        } catch {
            throw TransportConnection.transportError(for: error)
        }
        let handle = ConnectionHandle(rawValue: nextHandle)
        nextHandle += 1
        let connection = TransportConnection(
            side: .client, handle: handle, remoteAddress: remote, context: context,
            localConnectionID: localConnectionID, peerConnectionID: originalDestination,
            originalDestinationConnectionID: originalDestination, handshake: session,
            localTransportParameters: parameters, initialKeys: keys, now: now)
        connection.addressValidation.tokenServerAddress = remote
        // Tokens stored through `storeAddressToken` are checked here too: an oversized one would not fit an Initial.
        if let token = addressTokens[remote], token.count <= ConnectionAddressValidation.maxInitialTokenLength {
            connection.addressValidation.initialToken = token
        }
        register(connection)
        addRoute(localConnectionID, to: connection)
        connection.startHandshake(now: now)
        afterActivity(connection, now: now)
        return handle
    }

    private func register(_ connection: TransportConnection) {
        connections[connection.handle] = connection
        connection.scheduler = scheduler
    }

    private func addRoute(_ connectionID: ConnectionID, to connection: TransportConnection) {
        guard routes[connectionID] == nil else { return }
        routes[connectionID] = connection
        connection.routedConnectionIDs.append(connectionID)
    }

    private func removeRoute(_ connectionID: ConnectionID, of connection: TransportConnection) {
        if routes[connectionID] === connection { routes[connectionID] = nil }
        connection.routedConnectionIDs.removeAll { $0 == connectionID }
    }

    // MARK: Bookkeeping after any activity

    /// Applies a connection's routing changes, queues it for sending and events, and reschedules its timer.
    func afterActivity(_ connection: TransportConnection, now: Instant? = nil) {
        if !connection.endpointActions.isEmpty {
            for action in connection.endpointActions {
                switch action {
                case .addConnectionID(let id): addRoute(id, to: connection)
                case .removeConnectionID(let id):
                    removeRoute(id, of: connection)
                    noteRetiredConnectionID(id)
                case .addResetToken(let token):
                    if resetTokens[token] == nil {
                        resetTokens[token] = connection
                        connection.routedResetTokens.append(token)
                    }
                }
            }
            connection.endpointActions.removeAll()
        }
        if connection.addressValidation.receivedNewToken != nil { storeReceivedToken(of: connection) }
        if !connection.isInSendQueue && connection.state != .closed {
            connection.isInSendQueue = true
            sendQueue.append(connection)
        }
        if !connection.events.isEmpty && !connection.isInEventQueue {
            connection.isInEventQueue = true
            eventQueue.append(connection)
        }
        let deadline = connection.nextTimeout()
        if deadline != connection.scheduledTimeout {
            connection.scheduledTimeout = deadline
            if let deadline { timers.push(.init(deadline: deadline, handle: connection.handle)) }
        }
        if connection.isCountedIncomingHandshake,
            connection.isHandshakeComplete || connection.state != .handshaking {
            uncountIncomingHandshake(connection)
        }
        if connection.state == .closed && connection.events.isEmpty {
            remove(connection)
        }
    }

    /// A server connection's handshake ended (completed, failed or closed): it no longer counts toward
    /// `retryAboveHandshakes`.
    private func uncountIncomingHandshake(_ connection: TransportConnection) {
        guard connection.isCountedIncomingHandshake else { return }
        connection.isCountedIncomingHandshake = false
        incomingHandshakes -= 1
    }

    private func remove(_ connection: TransportConnection) {
        guard connections[connection.handle] === connection else { return }
        uncountIncomingHandshake(connection)
        for id in connection.routedConnectionIDs where routes[id] === connection {
            routes[id] = nil
        }
        connection.routedConnectionIDs.removeAll()
        for token in connection.routedResetTokens where resetTokens[token] === connection {
            resetTokens[token] = nil
        }
        connection.routedResetTokens.removeAll()
        connections[connection.handle] = nil
        connection.scheduledTimeout = nil
    }

    /// Connections touched by application commands get the same bookkeeping as after network activity.
    private func processDirtyConnections() {
        guard !scheduler.dirty.isEmpty else { return }
        // Two buffers trade places, so neither is copied or reallocated: `afterActivity` may mark connections
        // dirty again, into the emptied one.
        swap(&scheduler.dirty, &scheduler.processing)
        for connection in scheduler.processing {
            connection.isDirty = false
            if connections[connection.handle] === connection { afterActivity(connection) }
        }
        scheduler.processing.removeAll(keepingCapacity: true)
    }

    // MARK: Output

    /// Writes the next datagram to send into `buffer` (at least 65,535 bytes), or returns nil when idle.
    ///
    /// Rotates across connections so one bulk sender does not starve the others.
    public func pollTransmit(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Transmit? {
        pollTransmit(now: now, into: buffer, maxSegments: 1)
    }

    /// Like `pollTransmit(now:into:)`, but may write up to `maxSegments` datagrams of one connection back to back
    /// for UDP generic segmentation offload (GSO).
    ///
    /// When more than one is written, `Transmit.segmentSize` is set: every datagram is exactly that long except
    /// possibly the last, which is shorter, and `size` is their total. Batching starts only from a datagram of at
    /// least `minimumBatchedSegment` bytes (bulk data), so handshake flights and ACKs still go out one by one. The
    /// first datagram's size sets the segment size: a stream sender's are all the path's maximum, and a relay's or
    /// a relay client's DATAGRAM frames all carry equal-size inner packets, so their datagrams batch too. Each
    /// further datagram is written into exactly one segment's room, so none can be longer than the first, and one
    /// that falls short by at most `segmentPaddingSlack` bytes (an ACK frame more in the first) is padded to it.
    public func pollTransmit(
        now: Instant, into buffer: UnsafeMutableRawBufferPointer, maxSegments: Int
    ) -> Transmit? {
        if !statelessTransmits.isEmpty {
            let (destination, bytes) = statelessTransmits.removeFirst()
            let size = min(bytes.count, buffer.count)
            bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<size]))
            }
            return Transmit(destination: destination, size: size)
        }
        processDirtyConnections()
        while sendQueueHead < sendQueue.count {
            let connection = sendQueue[sendQueueHead]
            sendQueueHead += 1
            if let size = connection.pollTransmit(now: now, into: buffer) {
                var total = size
                var segments = 1
                if maxSegments > 1 && size >= Self.minimumBatchedSegment && !connection.isProbeTransmit {
                    connection.segmentPaddingThreshold = size - Self.segmentPaddingSlack
                    defer { connection.segmentPaddingThreshold = nil }
                    while segments < maxSegments, total + size <= buffer.count {
                        let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[total..<(total + size)])
                        guard let next = connection.pollTransmit(now: now, into: slice), !connection.isProbeTransmit
                        else { break }
                        total += next
                        segments += 1
                        if next < size { break }
                    }
                }
                // Round robin: back of the queue.
                sendQueue.append(connection)
                compactSendQueue()
                let transmit = Transmit(
                    destination: connection.transmitDestination, size: total, ecn: connection.ecnCodepoint,
                    segmentSize: segments > 1 ? size : nil,
                    source: connection.transmitSource)
                afterTransmit(connection, now: now)
                return transmit
            }
            connection.isInSendQueue = false
            afterTransmit(connection, now: now)
        }
        sendQueue.removeAll(keepingCapacity: true)
        sendQueueHead = 0
        return nil
    }

    /// The smallest datagram that starts a GSO batch (`pollTransmit(now:into:maxSegments:)`).
    static let minimumBatchedSegment = 1000
    /// How much shorter than the batch's segment size a datagram may be and still be padded to it: enough for an
    /// ACK frame and a longer packet number, so only near-equal datagrams pay for padding.
    static let segmentPaddingSlack = 64

    private func afterTransmit(_ connection: TransportConnection, now: Instant) {
        let deadline = connection.nextTimeout()
        if deadline != connection.scheduledTimeout {
            connection.scheduledTimeout = deadline
            if let deadline { timers.push(.init(deadline: deadline, handle: connection.handle)) }
        }
        if !connection.events.isEmpty && !connection.isInEventQueue {
            connection.isInEventQueue = true
            eventQueue.append(connection)
        }
        if connection.state == .closed && connection.events.isEmpty { remove(connection) }
    }

    private func compactSendQueue() {
        if sendQueueHead > 256 && sendQueueHead * 2 > sendQueue.count {
            sendQueue.removeFirst(sendQueueHead)
            sendQueueHead = 0
        }
    }

    /// The earliest instant at which `handleTimeout` must be called, or nil when no timer is armed.
    public func nextTimeout() -> Instant? {
        processDirtyConnections()
        while let top = timers.top {
            if let connection = connections[top.handle], connection.scheduledTimeout == top.deadline {
                return top.deadline
            }
            timers.popTop()
        }
        return nil
    }

    /// Fires every timer due at `now`: loss detection, PTO, ACK delay, idle, pacing, closing/draining.
    public func handleTimeout(now: Instant) {
        processDirtyConnections()
        // Collect due connections first: handling may schedule new deadlines at or before `now` (an ACK that
        // only `pollTransmit` can send), which must not be re-run in this call.
        dueScratch.removeAll(keepingCapacity: true)
        while let top = timers.top, top.deadline <= now {
            timers.popTop()
            guard let connection = connections[top.handle], connection.scheduledTimeout == top.deadline else {
                continue
            }
            connection.scheduledTimeout = nil
            dueScratch.append(connection)
        }
        for connection in dueScratch {
            connection.handleTimeout(now: now)
            afterActivity(connection, now: now)
        }
        dueScratch.removeAll(keepingCapacity: true)
    }

    /// The next application-visible event, with the connection it belongs to.
    public func pollEvent() -> (ConnectionHandle, ConnectionEvent)? {
        processDirtyConnections()
        while eventQueueHead < eventQueue.count {
            let connection = eventQueue[eventQueueHead]
            if let event = connection.events.popFirst() {
                if connection.events.isEmpty {
                    connection.isInEventQueue = false
                    eventQueueHead += 1
                    if connection.state == .closed { remove(connection) }
                }
                return (connection.handle, event)
            }
            connection.isInEventQueue = false
            eventQueueHead += 1
        }
        eventQueue.removeAll(keepingCapacity: true)
        eventQueueHead = 0
        return nil
    }

    /// Closes every connection with an application error code (RFC 9000 §10.2).
    public func close(errorCode: UInt64, reason: String, now: Instant) {
        for connection in connections.values {
            connection.close(errorCode: errorCode, reason: reason, now: now)
            afterActivity(connection, now: now)
        }
    }
}

/// Collects connections changed by application commands, so the endpoint can queue them for sending and
/// reschedule their timers without scanning every connection.
final class ConnectionScheduler {
    @exclusivity(unchecked) var dirty: [TransportConnection] = []
    /// The batch being processed; empty between calls.
    @exclusivity(unchecked) var processing: [TransportConnection] = []
}

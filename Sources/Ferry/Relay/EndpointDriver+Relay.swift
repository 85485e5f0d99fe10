import FerryCrypto
import FerryTransport
import NIOCore

/// The relay client's data plane, on the driver's event loop (docs/relay.md §4).
///
/// Data still flows one way (design.md): a packet the transport writes to a relayed path's stand-in address is
/// wrapped as `sendPacket` and queued on the relay's connection, in the same flush; a `receivePacket` that arrives
/// on a relay connection is unwrapped and handed to `TransportEndpoint.handle` as coming from the stand-in address
/// of (relay, source). Relay connections are ordinary QUIC connections on the endpoint's own socket, so the relay
/// sees (and keeps alive) that socket's NAT mapping; the runtime only intercepts their datagrams and relay stream.
extension EndpointDriver {
    /// Keep-alive on relay connections: well inside common 30 s UDP NAT timeouts (RFC 4787 REQ-5 asks for 2 min,
    /// many NATs use less), so the mapping the relay observes stays the socket's.
    static let relayKeepAliveInterval: Duration = .seconds(10)

    // MARK: Links

    /// Dials a relay: a QUIC connection with ALPN `ferry/relay/1` that skips the endpoint's hooks (the relay is
    /// configured infrastructure, not a peer) and becomes a relay link once its handshake completes.
    func connectRelay(
        _ address: EndpointAddress,
        remote: NetworkAddress,
        token: WaiterToken,
        resumer: Resumer<Result<Connection, ConnectionError>>
    ) {
        guard state == .open else { return resumer.resume(returning: .failure(.endpointClosed)) }
        let handle: ConnectionHandle
        do {
            handle = try transport.connect(
                to: remote, expectedPeer: address.id, alpns: [Array(RelayMessage.alpn.utf8)], now: LoopClock.now())
        } catch {
            return resumer.resume(returning: .failure(.connectFailed(error)))
        }
        let runtime = ConnectionRuntime(handle: handle, side: .client)
        runtime.connectWaiter = resumer
        runtime.connectToken = token
        runtime.relayAddress = address
        connections[handle] = runtime
        drive()
    }

    /// Turns a relay connection whose handshake completed into a link: opens the relay stream and says hello.
    func registerRelayLink(_ runtime: ConnectionRuntime, connection: TransportConnection, address: EndpointAddress) {
        connection.setKeepAliveInterval(Self.relayKeepAliveInterval)
        let link = RelayLink(relayID: address.id, address: address, carrier: .quic(runtime.handle), since: LoopClock.now())
        switch relayState.links[address.id]?.carrier {
        case .quic(let oldHandle): relayState.linksByHandle.removeValue(forKey: oldHandle)
        case .tcp(let channel): channel.close()  // UDP works again: leave the fallback
        case nil: break
        }
        relayState.links[address.id] = link
        relayState.linksByHandle[runtime.handle] = link
        link.streamID = connection.openStream(bidirectional: true)
        sendRelayControl(.clientHello(version: RelayMessage.version, isMeshPeer: false, token: relayToken), on: link)
        logger.debug("relay link up", metadata: ["relay": "\(address)"])
    }

    /// Registers a TLS-over-TCP relay link (the fallback when UDP is blocked); its channel runs on this loop.
    /// Returns false, registering nothing, when a ready link to the relay exists already (UDP won the race).
    func registerRelayLink(channel: any RelayByteChannel, address: EndpointAddress) -> Bool {
        guard state == .open, relayState.links[address.id]?.isReady != true else { return false }
        let link = RelayLink(relayID: address.id, address: address, carrier: .tcp(channel), since: LoopClock.now())
        if let old = relayState.links[address.id], case .quic(let oldHandle) = old.carrier {
            relayState.linksByHandle.removeValue(forKey: oldHandle)
        }
        relayState.links[address.id] = link
        sendRelayControl(.clientHello(version: RelayMessage.version, isMeshPeer: false, token: relayToken), on: link)
        logger.debug("relay link up over TCP", metadata: ["relay": "\(address)"])
        return true
    }

    /// Forgets a QUIC link whose connection ended; relayed paths through it wait for the next link.
    func relayLinkClosed(relay: EndpointID, carrierHandle: ConnectionHandle) {
        guard let link = relayState.links[relay], case .quic(let handle) = link.carrier, handle == carrierHandle
        else { return }
        relayState.linksByHandle.removeValue(forKey: handle)
        relayState.links.removeValue(forKey: relay)
        logger.debug("relay link down", metadata: ["relay": "\(link.address)"])
    }

    /// The token sent in `clientHello` (EndpointConfiguration.relayToken).
    var relayToken: [UInt8] { Array(configuration.relayToken.utf8.prefix(255)) }

    // MARK: Sending

    /// Sends one packet the transport wrote to a stand-in address through its relay. Returns false (dropped) when
    /// no link is up or the link cannot take it now; QUIC's loss recovery treats that like any lost packet.
    @discardableResult
    func sendRelayedPacket(_ packet: UnsafeRawBufferPointer, to address: NetworkAddress) -> Bool {
        guard let route = relayState.book.route(for: address), let link = relayState.links[route.relay] else {
            relayState.packetsDroppedWithoutLink &+= 1
            return false
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(packet.count + RelayMessage.packetOverhead + 2)
        bytes.append(RelayMessage.TypeCode.sendPacket.rawValue)
        bytes.append(contentsOf: route.peer.rawValue)
        bytes.append(contentsOf: packet)
        let sent = sendRelayMessageBytes(bytes, on: link, isPacket: true, packetSize: packet.count)
        if sent { link.packetsSent &+= 1 } else { link.packetsDropped &+= 1 }
        return sent
    }

    /// Sends a control message (hello, ping, pong) on the relay stream.
    func sendRelayControl(_ message: RelayMessage, on link: RelayLink) {
        _ = sendRelayMessageBytes(message.encoded, on: link, isPacket: false, packetSize: 0)
    }

    /// Sends an encoded message: as a DATAGRAM frame when it is a packet that fits, otherwise framed on the
    /// relay stream when it is a control message or a packet of at most `RelayMessage.guaranteedPacketSize`.
    private func sendRelayMessageBytes(_ bytes: [UInt8], on link: RelayLink, isPacket: Bool, packetSize: Int) -> Bool {
        switch link.carrier {
        case .tcp(let channel):
            guard !isPacket || packetSize <= RelayMessage.guaranteedPacketSize else { return false }
            var framed: [UInt8] = []
            framed.reserveCapacity(bytes.count + 2)
            framed.append(UInt8(bytes.count >> 8))
            framed.append(UInt8(bytes.count & 0xff))
            framed.append(contentsOf: bytes)
            return channel.send(framed: framed)
        case .quic(let handle):
            guard let connection = transport.connection(handle) else { return false }
            if isPacket, let maximum = connection.maxDatagramPayloadSize, bytes.count <= maximum {
                do {
                    try connection.sendDatagram(bytes)
                    return true
                } catch {
                    return false
                }
            }
            guard !isPacket || packetSize <= RelayMessage.guaranteedPacketSize, let stream = link.streamID else {
                return false
            }
            guard link.pendingStreamBytes.count + bytes.count + 2 <= RelayLink.maximumPendingStreamBytes else {
                return false
            }
            link.pendingStreamBytes.append(UInt8(bytes.count >> 8))
            link.pendingStreamBytes.append(UInt8(bytes.count & 0xff))
            link.pendingStreamBytes.append(contentsOf: bytes)
            flushRelayStream(link, connection: connection, stream: stream)
            return true
        }
    }

    /// Moves pending relay-stream bytes into the stream as far as flow control allows.
    func flushRelayStream(_ link: RelayLink, connection: TransportConnection, stream: StreamID) {
        guard !link.pendingStreamBytes.isEmpty else { return }
        let accepted = (try? connection.write(stream, link.pendingStreamBytes)) ?? 0
        if accepted > 0 { link.pendingStreamBytes.removeFirst(accepted) }
        scheduleDrive()
    }

    // MARK: Receiving

    /// Handles relay-connection events the runtime intercepts; returns false for events the application sees.
    func handleRelayEvent(_ event: ConnectionEvent, runtime: ConnectionRuntime) -> Bool {
        guard let link = relayState.linksByHandle[runtime.handle], let connection = transport.connection(runtime.handle)
        else { return false }
        switch event {
        case .datagramReceived:
            while let datagram = connection.receiveDatagram() {
                relayMessageReceived(datagram[...], on: link)
            }
            return true
        case .streamReadable(let stream) where stream == link.streamID:
            readRelayStream(link, connection: connection, stream: stream)
            return true
        case .streamWritable(let stream) where stream == link.streamID:
            flushRelayStream(link, connection: connection, stream: stream)
            return true
        case .streamOpened:
            // A relay never opens streams; ignore rather than queue them for an accept that never comes.
            return true
        default:
            return false
        }
    }

    private func readRelayStream(_ link: RelayLink, connection: TransportConnection, stream: StreamID) {
        while true {
            let result: StreamReadResult
            do {
                result = try connection.read(stream, maxLength: 65_536)
            } catch {
                return closeRelayLink(link, reason: "relay stream failed: \(error)")
            }
            switch result {
            case .data(let bytes):
                link.decoder.append(bytes)
                do {
                    while let message = try link.decoder.next() { relayMessageReceived(message, on: link) }
                } catch {
                    return closeRelayLink(link, reason: "\(error)")
                }
            case .finished:
                return closeRelayLink(link, reason: "relay closed its stream")
            case .blocked:
                scheduleDrive()
                return
            }
        }
    }

    /// Handles one message (type byte and body) from a relay: datagram form.
    func relayMessageReceived(_ bytes: ArraySlice<UInt8>, on link: RelayLink) {
        // The common case, decoded without building a `RelayMessage`: copy the packet straight to the transport.
        if bytes.count > 33, bytes.first == RelayMessage.TypeCode.receivePacket.rawValue,
            bytes.count - 33 <= RelayMessage.maximumPacketSize,
            let source = EndpointID(rawValue: Array(bytes[(bytes.startIndex + 1)..<(bytes.startIndex + 33)]))
        {
            return deliverRelayedPacket(bytes[(bytes.startIndex + 33)...], from: source, on: link)
        }
        do {
            relayMessageReceived(try RelayMessage(decoding: bytes), on: link)
        } catch {
            closeRelayLink(link, reason: "\(error)")
        }
    }

    /// Handles one decoded message from a relay.
    func relayMessageReceived(_ message: RelayMessage, on link: RelayLink) {
        switch message {
        case .receivePacket(let source, let packet):
            deliverRelayedPacket(packet, from: source, on: link)
        case .serverHello(let version):
            guard version == RelayMessage.version else {
                return closeRelayLink(link, reason: "relay speaks version \(version)")
            }
            link.isReady = true
            relayLinkReady(link)
        case .peerUnreachable(let peer, let reason):
            failRelayedConnects(to: peer, through: link.relayID, reason: reason)
        case .ping(let payload):
            sendRelayControl(.pong(payload), on: link)
        case .pong(let payload):
            if let sent = link.pings.removeValue(forKey: payload) {
                link.latestRTT = LoopClock.now() - sent
            }
        case .close(let code, let reason):
            logger.notice("relay is closing the link", metadata: [
                "relay": "\(link.address)", "code": "\(code)", "reason": "\(reason)",
            ])
        case .clientHello, .sendPacket, .peersPresent, .peersAbsent, .meshForward:
            closeRelayLink(link, reason: "\(RelayProtocolError.unexpected(message.typeCode))")
        }
    }

    private func deliverRelayedPacket(_ packet: ArraySlice<UInt8>, from source: EndpointID, on link: RelayLink) {
        guard let address = relayState.book.address(for: .init(relay: link.relayID, peer: source)) else { return }
        link.packetsReceived &+= 1
        relayState.receiveScratch.removeAll(keepingCapacity: true)
        relayState.receiveScratch.append(contentsOf: packet)
        transport.handle(datagram: &relayState.receiveScratch, from: address, ecn: 0, now: batchNow ?? LoopClock.now())
        scheduleDrive()
    }

    /// Fails every handshake in progress to `peer` through `relay` with `.peerUnreachable`: the relay said the
    /// peer is not connected, so waiting for a timeout would only delay the same answer.
    private func failRelayedConnects(to peer: EndpointID, through relay: EndpointID, reason: RelayMessage.UnreachableReason) {
        guard reason == .notConnected,
            let address = relayState.book.existingAddress(for: .init(relay: relay, peer: peer))
        else { return }
        for runtime in connections.values {
            guard case .handshaking = runtime.phase, let waiter = runtime.connectWaiter,
                let connection = transport.connection(runtime.handle), connection.remoteAddress == address
            else { continue }
            runtime.connectWaiter = nil
            waiter.resume(returning: .failure(.peerUnreachable(peer, relay: relay)))
            connection.close(errorCode: 0, reason: "peer not connected to the relay", now: LoopClock.now())
        }
        scheduleDrive()
    }

    /// Closes a relay link after a protocol error, with the reason as the close reason the relay sees.
    func closeRelayLink(_ link: RelayLink, reason: String) {
        logger.warning("closing relay link", metadata: ["relay": "\(link.address)", "reason": "\(reason)"])
        switch link.carrier {
        case .quic(let handle):
            transport.connection(handle)?.close(errorCode: RelayCloseCode.protocolViolation, reason: reason, now: LoopClock.now())
            relayState.linksByHandle.removeValue(forKey: handle)
        case .tcp(let channel):
            channel.close()
        }
        relayState.links.removeValue(forKey: link.relayID)
        scheduleDrive()
    }

    /// Called when a relay answered hello; wakes tasks waiting for a link.
    private func relayLinkReady(_ link: RelayLink) {
        updateHomeRelay()
        let waiters = relayLinkWaiters
        relayLinkWaiters.removeAll()
        for waiter in waiters { waiter.resumer.resume() }
    }

    // MARK: Dialing through a relay

    /// The stand-in address for `peer` through `relay`, when a link to that relay is up.
    func relayedAddress(to peer: EndpointID, through relay: EndpointID) -> NetworkAddress? {
        guard relayState.links[relay]?.isReady == true else { return nil }
        return relayState.book.address(for: .init(relay: relay, peer: peer))
    }

    /// The relays to dial `peer` through, in order: `hint` if linked, the home relay, then the others by RTT.
    func relayCandidates(hint: EndpointID?) -> [EndpointID] {
        var result: [EndpointID] = []
        let ready = relayState.links.values.filter(\.isReady)
        if let hint, ready.contains(where: { $0.relayID == hint }) { result.append(hint) }
        if let home = relayState.homeRelay, !result.contains(home), ready.contains(where: { $0.relayID == home }) {
            result.append(home)
        }
        let rest = ready.filter { !result.contains($0.relayID) }
            .sorted { relayRTT($0) ?? .seconds(1000) < relayRTT($1) ?? .seconds(1000) }
        return result + rest.map(\.relayID)
    }

    /// The link's latest RTT: the QUIC connection's smoothed RTT, or the last ping over TCP.
    func relayRTT(_ link: RelayLink) -> Duration? {
        switch link.carrier {
        case .quic(let handle):
            guard let connection = transport.connection(handle) else { return nil }
            return connection.stats.smoothedRTT
        case .tcp:
            return link.latestRTT
        }
    }

    /// How a remote address is shown to the application: a relayed path's stand-in becomes its relay's address.
    func displayAddress(of address: NetworkAddress) -> HostPort {
        if let route = relayRoute(of: address), let relay = relayState.links[route.relay]?.address.directAddresses.first {
            return relay
        }
        return address.hostPort
    }

    /// Relay and peer of a relayed path's stand-in address; nil for a direct address.
    func relayRoute(of address: NetworkAddress) -> RelayAddressBook.Route? {
        guard RelayAddressBook.isRelayed(address) else { return nil }
        return relayState.book.route(for: address)
    }
}

/// Application close codes of relay connections (docs/relay.md §3.4).
package enum RelayCloseCode {
    /// A malformed or unexpected relay message.
    package static let protocolViolation: UInt64 = 0x1
    /// The relay's access policy refused the client (allowlist, denylist, token).
    package static let unauthorized: UInt64 = 0x2
    /// The relay has reached its client limit.
    package static let full: UInt64 = 0x3
    /// The client did not say hello in time.
    package static let helloTimeout: UInt64 = 0x4
    /// Another connection with the same id replaced this one.
    package static let replaced: UInt64 = 0x5
    /// The relay is shutting down.
    package static let shutdown: UInt64 = 0x6
}

extension RelayMessage {
    /// The message's type code.
    package var typeCode: TypeCode {
        switch self {
        case .clientHello: .clientHello
        case .serverHello: .serverHello
        case .sendPacket: .sendPacket
        case .receivePacket: .receivePacket
        case .peerUnreachable: .peerUnreachable
        case .ping: .ping
        case .pong: .pong
        case .close: .close
        case .peersPresent: .peersPresent
        case .peersAbsent: .peersAbsent
        case .meshForward: .meshForward
        }
    }
}

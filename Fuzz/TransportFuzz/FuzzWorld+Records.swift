import FerryTestSupport
import FerryTransport

// What each fuzz record does. A record is `kind (1) | length (2) | body`; the kind's bits are:
//
//   0x0F  operation: 0/1 raw datagram to the server/client; 2/3 Initial, 4/5 Handshake, 6/7 1-RTT packet to the
//         server/client, sealed with the keys the target reads with; 8/9 application command on the server's /
//         client's connection; 10/11 the next scripted handshake message to the server/client; 12 a stateless
//         reset to the client; 13 a Retry to the client; 14, 15 only let time pass
//   0x30  time before the record: none, 2 ms, 150 ms, or up to the next timer
//   0x40  the datagram comes from another address (a rebinding or a spoofed source, RFC 9000 §9)
//   0x80  hold the packet and coalesce it with the next record's into one datagram (RFC 9000 §12.2)
//
// A sealed packet's body is `control (1) | frames`: control bits 0-1 pick the packet number (next, the last one
// again, skip 1-16 ahead, or 1-16 behind), bit 2 moves to the next 1-RTT key phase first (RFC 9001 §6), bit 3 sets
// the spin bit.

extension FuzzWorld {
    func handleRecord(kind: UInt8, body: ArraySlice<UInt8>) {
        recordIndex += 1
        if fuzzTrace { trace("record \(recordIndex): kind 0x\(String(kind, radix: 16)), \(body.count) bytes") }
        advanceClock(kind >> 4 & 0x03)
        let coalesces = kind & 0x80 != 0
        let fromElsewhere = kind & 0x40 != 0
        let operation = kind & 0x0F
        let role: FuzzRole = operation & 1 == 0 ? .server : .client
        switch operation {
        case 0, 1:
            send(Array(body), to: role, coalesces: coalesces, fromElsewhere: fromElsewhere)
        case 2...7:
            let type: ForgedPacketType = operation < 4 ? .initial : operation < 6 ? .handshake : .oneRTT
            if let packet = forge(type, to: role, control: body.first ?? 0, payload: body.dropFirst()) {
                send(packet, to: role, coalesces: coalesces, fromElsewhere: fromElsewhere)
            }
        case 8, 9:
            flushPending()
            applicationCommand(body, on: role)
        case 10, 11:
            if let packet = scriptedHandshakeMessage(to: role, control: body.first ?? 0, extra: body.dropFirst()) {
                send(packet, to: role, coalesces: coalesces, fromElsewhere: fromElsewhere)
            }
        case 12:
            send(statelessReset(body), to: .client, coalesces: coalesces, fromElsewhere: fromElsewhere)
        case 13:
            if let packet = retry(token: Array(body)) {
                send(packet, to: .client, coalesces: coalesces, fromElsewhere: fromElsewhere)
            }
        default:
            flushPending()
        }
        pump()
    }

    private func advanceClock(_ step: UInt8) {
        switch step {
        case 1: now = now + .milliseconds(2)
        case 2: now = now + .milliseconds(150)
        case 3: if let deadline = nextDeadline() { now = max(now, deadline) }
        default: break
        }
    }

    // MARK: Datagrams

    private func send(_ bytes: [UInt8], to role: FuzzRole, coalesces: Bool, fromElsewhere: Bool) {
        if let pending, pending.role != role { flushPending() }
        var datagram = pending?.bytes ?? []
        datagram += bytes
        pending = (role, datagram)
        guard !coalesces else { return }
        flushPending(fromElsewhere: fromElsewhere)
    }

    /// Delivers the datagram being assembled, if any. The ECN codepoint varies with the record index so ECN
    /// counting sees all four codepoints (RFC 9000 §13.4).
    func flushPending(fromElsewhere: Bool = false) {
        guard let held = pending else { return }
        pending = nil
        let role = held.role
        var datagram = held.bytes
        guard !datagram.isEmpty else { return }
        let source: NetworkAddress = switch (role, fromElsewhere) {
        case (.server, false): Self.clientAddress
        case (.server, true): Self.otherClientAddress
        case (.client, false): Self.serverAddress
        case (.client, true): Self.strayAddress
        }
        endpoint(role).handle(
            datagram: &datagram, from: source, ecn: UInt8(truncatingIfNeeded: recordIndex) & 0x03, now: now)
    }

    // MARK: Forged packets

    /// Seals `payload` as a packet `role` can open, addressed to its connection ID, with the packet number the
    /// control byte picks. Without keys for the level yet, a made-up key is used, so the packet fails to open.
    func forge(
        _ type: ForgedPacketType, to role: FuzzRole, control: UInt8, payload: ArraySlice<UInt8>
    ) -> [UInt8]? {
        let level = type.level.rawValue
        var next = nextPacketNumber[role.rawValue][level]
        let packetNumber: UInt64
        switch control & 0x03 {
        case 0: packetNumber = next; next += 1
        case 1: packetNumber = next > 0 ? next - 1 : 0
        case 2: packetNumber = next + UInt64(control >> 4) + 1; next = packetNumber + 1
        default: packetNumber = next - min(next, UInt64(control >> 4) + 1)
        }
        nextPacketNumber[role.rawValue][level] = next
        if type == .oneRTT && control & 0x04 != 0 { keyGeneration[role.rawValue] += 1 }
        let (destination, source) = connectionIDs(for: role, type: type)
        let isServerInitial = role == .server && type == .initial
        return PacketForge.make(
            type, destination: destination, source: source, token: isServerInitial ? retryToken : [],
            packetNumber: packetNumber, keyPhase: type == .oneRTT && keyGeneration[role.rawValue] & 1 == 1,
            spinBit: control & 0x08 != 0, payload: Array(payload), minimumSize: isServerInitial ? 1200 : 0,
            protector: sealingKey(type, for: role))
    }

    /// The connection IDs a peer of `role` would put in its headers.
    private func connectionIDs(for role: FuzzRole, type: ForgedPacketType) -> (ConnectionID, ConnectionID) {
        switch role {
        case .server:
            let original = retrySource ?? Self.fuzzClientOriginalDestination
            let destination = serverConnectionID ?? original
            let source = setup == .established ? (clientConnectionID ?? Self.fuzzClientConnectionID)
                : Self.fuzzClientConnectionID
            return (destination, source)
        case .client:
            let source = setup == .established ? (serverConnectionID ?? Self.fuzzServerConnectionID)
                : Self.fuzzServerConnectionID
            return (clientConnectionID ?? Self.fuzzClientConnectionID, source)
        }
    }

    /// The key `role` reads `type` packets with. The server's Initial keys come from the Destination Connection
    /// ID the fuzzer's client chose (or the Retry's, RFC 9001 §5.2); every other key is captured from the
    /// endpoint. 1-RTT keys advance by one key update per generation (RFC 9001 §6).
    private func sealingKey(_ type: ForgedPacketType, for role: FuzzRole) -> any PacketProtector {
        let unknown = TestPacketProtector(key: 0xBAD, headerKey: 0xBAD)
        if role == .server && type == .initial && setup == .handshake {
            let dcid = retrySource ?? Self.fuzzClientOriginalDestination
            return (try? crypto.makeInitialKeys(destinationConnectionID: dcid.bytes, side: .client).local) ?? unknown
        }
        let ring = role == .server ? serverKeys : clientKeys
        guard let base = ring.readKeys[type.level.rawValue] else { return unknown }
        guard type == .oneRTT else { return base }
        let generation = min(keyGeneration[role.rawValue], 64)
        if let cached = generationKeys[role.rawValue], cached.base == ObjectIdentifier(base),
            cached.generation <= generation
        {
            var protector = cached.protector
            for _ in cached.generation..<generation { protector = (try? protector.makeNextKeyPhase()) ?? unknown }
            generationKeys[role.rawValue] = (ObjectIdentifier(base), generation, protector)
            return protector
        }
        var protector = base
        for _ in 0..<generation { protector = (try? protector.makeNextKeyPhase()) ?? unknown }
        generationKeys[role.rawValue] = (ObjectIdentifier(base), generation, protector)
        return protector
    }

    // MARK: Scripted handshake

    /// The next message of the scripted handshake, sealed for `role`. Control bit 0 picks the step (the first or
    /// second flight); bit 1 offers or selects an ALPN the other side does not know (RFC 9001 §8.1); bit 2 splits
    /// the CRYPTO data into two frames sent in reverse order; for the client, bit 3 presents the wrong identity.
    /// `extra` is appended to the transport parameters (RFC 9000 §18).
    func scriptedHandshakeMessage(to role: FuzzRole, control: UInt8, extra: ArraySlice<UInt8>) -> [UInt8]? {
        let alpn = control & 0x02 != 0 ? Array("nope".utf8) : PeerScript.alpn
        let secondFlight = control & 0x01 != 0
        let message: [UInt8]
        let type: ForgedPacketType
        switch (role, secondFlight) {
        case (.server, false):
            let parameters = PeerScript.transportParameters(
                side: .client, initialSource: Self.fuzzClientConnectionID, originalDestination: nil, extra: extra)
            message = PeerScript.clientHello(random: 0x1111, alpn: alpn, parameters: parameters)
            type = .initial
        case (.server, true):
            message = PeerScript.finished
            type = .handshake
        case (.client, false):
            message = PeerScript.serverHello(random: 0x2222)
            type = .initial
        case (.client, true):
            let parameters = PeerScript.transportParameters(
                side: .server, initialSource: Self.fuzzServerConnectionID,
                originalDestination: clientOriginalDestination, extra: extra)
            let identity = control & 0x08 != 0 ? PeerScript.clientIdentity : PeerScript.serverIdentity
            message = PeerScript.encryptedExtensions(alpn: alpn, identity: identity, parameters: parameters)
            type = .handshake
        }
        var frames: [UInt8]
        if control & 0x04 != 0 && message.count > 1 {
            let half = message.count / 2
            frames = PeerScript.cryptoFrame(offset: UInt64(half), Array(message[half...]))
            frames += PeerScript.cryptoFrame(offset: 0, Array(message[..<half]))
        } else {
            frames = PeerScript.cryptoFrame(offset: 0, message)
        }
        return forge(type, to: role, control: 0, payload: frames[...])
    }

    // MARK: Stateless packets to the client

    /// A short-header datagram ending in the reset token the fuzzer's server advertised (RFC 9000 §10.3).
    private func statelessReset(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var bytes: [UInt8] = [0x40 | ((body.first ?? 0) & 0x3F)]
        bytes += body.dropFirst().prefix(64)
        while bytes.count < 5 { bytes.append(0x55) }
        return bytes + PeerScript.resetToken
    }

    /// A Retry to the client carrying `token`, with a valid integrity tag over its first Destination
    /// Connection ID (RFC 9000 §17.2.5, RFC 9001 §5.8).
    private func retry(token: [UInt8]) -> [UInt8]? {
        guard let original = clientOriginalDestination else { return nil }
        let packet = PacketWriter.encodeRetryWithoutTag(
            version: 1, destinationConnectionID: clientConnectionID ?? Self.fuzzClientConnectionID,
            sourceConnectionID: Self.fuzzServerConnectionID, token: token)
        guard let tag = try? RetryIntegrity.tag(
            retryPacketWithoutTag: packet, originalDestinationConnectionID: original.bytes)
        else { return nil }
        return packet + tag
    }
}

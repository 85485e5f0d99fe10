/// A new connection attempt held for the application's decision (quinn's `Incoming`).
public struct IncomingAttempt: Sendable, Hashable {
    /// Identifies the attempt in `acceptIncoming` / `ignoreIncoming`.
    public let id: UInt64
    /// Where the client's first Initial came from.
    public let remoteAddress: NetworkAddress
    /// Whether the Initial carried a valid Retry or NEW_TOKEN token, proving the address (RFC 9000 §8.1).
    public let isAddressValidated: Bool
    /// The ALPN protocols the ClientHello offers, best effort: empty when they could not be read from the first
    /// datagram (RFC 7301 §3.1).
    public let alpns: [[UInt8]]
}

/// The datagrams of one held attempt, replayed on acceptance.
struct HeldIncoming {
    let id: UInt64
    let header: PacketHeader
    let remote: NetworkAddress
    let validation: AddressTokenValidation
    var datagrams: [(bytes: [UInt8], ecn: UInt8)]
}

/// Holding new connection attempts before any handshake work (RFC 9000 §7.2, §8.1), so an application policy
/// can decide asynchronously: nothing is answered and no TLS state exists until `acceptIncoming`.
extension TransportEndpoint {
    /// At most this many attempts wait at once; further ones are dropped (the client retransmits).
    static let maxHeldIncoming = 256
    /// At most this many datagrams (client Initial retransmissions) are kept per attempt.
    static let maxHeldDatagrams = 4

    func holdIncoming(
        _ header: PacketHeader, datagram: [UInt8], from remote: NetworkAddress, ecn: UInt8,
        validation: AddressTokenValidation
    ) {
        let key = header.destinationConnectionID
        if var held = heldIncoming[key] {
            if held.datagrams.count < Self.maxHeldDatagrams {
                held.datagrams.append((datagram, ecn))
                heldIncoming[key] = held
            } else {
                droppedDatagrams += 1
            }
            return
        }
        guard heldIncoming.count < Self.maxHeldIncoming else {
            droppedDatagrams += 1
            return
        }
        let id = nextIncomingID
        nextIncomingID += 1
        heldIncoming[key] = HeldIncoming(
            id: id, header: header, remote: remote, validation: validation, datagrams: [(datagram, ecn)])
        heldIncomingIDs[id] = key
        unreportedIncoming.append(IncomingAttempt(
            id: id, remoteAddress: remote, isAddressValidated: validation.isValidated,
            alpns: offeredALPNs(in: datagram, header: header)))
    }

    /// The next held attempt the application has not seen yet.
    public func pollIncoming() -> IncomingAttempt? {
        unreportedIncoming.isEmpty ? nil : unreportedIncoming.removeFirst()
    }

    /// How many attempts are waiting for a decision.
    public var heldIncomingCount: Int { heldIncoming.count }

    /// Starts the handshake for a held attempt, replaying its datagrams; nil if it is unknown or cannot start.
    @discardableResult
    public func acceptIncoming(_ id: UInt64, now: Instant) -> ConnectionHandle? {
        guard let key = heldIncomingIDs.removeValue(forKey: id), let held = heldIncoming.removeValue(forKey: key)
        else { return nil }
        guard let connection = acceptConnection(
            held.header, from: held.remote, validation: held.validation, now: now)
        else {
            droppedDatagrams += UInt64(held.datagrams.count)
            return nil
        }
        for (bytes, ecn) in held.datagrams {
            var datagram = bytes
            connection.handle(datagram: &datagram, from: held.remote, ecn: ecn, now: now)
        }
        afterActivity(connection, now: now)
        return connection.handle
    }

    /// Answers a held attempt with a Retry (RFC 9000 §8.1.2) and forgets it: the client comes back with a token,
    /// as a new attempt whose `isAddressValidated` is true. An attempt whose address is already validated has
    /// nothing left to prove, so it is accepted instead and its handle returned.
    @discardableResult
    public func retryIncoming(_ id: UInt64, now: Instant) -> ConnectionHandle? {
        guard let key = heldIncomingIDs[id], let held = heldIncoming[key] else { return nil }
        if held.validation.isValidated { return acceptIncoming(id, now: now) }
        heldIncomingIDs[id] = nil
        heldIncoming[key] = nil
        sendRetry(for: held.header, from: held.remote, now: now)
        return nil
    }

    /// Refuses a held attempt statelessly: one Initial packet with CONNECTION_CLOSE (CONNECTION_REFUSED,
    /// RFC 9000 §10.2.3, §20.1) and `reason`, and no connection state.
    public func refuseIncoming(_ id: UInt64, reason: String = "", now: Instant) {
        guard let key = heldIncomingIDs.removeValue(forKey: id), let held = heldIncoming.removeValue(forKey: key)
        else { return }
        sendStatelessClose(to: held.header, from: held.remote, code: .connectionRefused, reason: reason)
    }

    /// Forgets a held attempt without answering (its datagrams are dropped).
    public func ignoreIncoming(_ id: UInt64) {
        guard let key = heldIncomingIDs.removeValue(forKey: id), let held = heldIncoming.removeValue(forKey: key)
        else { return }
        droppedDatagrams += UInt64(held.datagrams.count)
    }
}

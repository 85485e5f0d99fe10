/// A new connection attempt held for the application's decision (quinn's `Incoming`).
public struct IncomingAttempt: Sendable, Hashable {
    /// Identifies the attempt in `acceptIncoming` / `ignoreIncoming`.
    public let id: UInt64
    /// Where the client's first Initial came from.
    public let remoteAddress: NetworkAddress
}

/// The datagrams of one held attempt, replayed on acceptance.
struct HeldIncoming {
    let id: UInt64
    let header: PacketHeader
    let remote: NetworkAddress
    var datagrams: [(bytes: [UInt8], ecn: UInt8)]
}

/// Holding new connection attempts before any handshake work (RFC 9000 §7.2, §8.1), so an application policy
/// can decide asynchronously: nothing is answered and no TLS state exists until `acceptIncoming`.
extension TransportEndpoint {
    /// At most this many attempts wait at once; further ones are dropped (the client retransmits).
    static let maxHeldIncoming = 256
    /// At most this many datagrams (client Initial retransmissions) are kept per attempt.
    static let maxHeldDatagrams = 4

    func holdIncoming(_ header: PacketHeader, datagram: [UInt8], from remote: NetworkAddress, ecn: UInt8) {
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
        heldIncoming[key] = HeldIncoming(id: id, header: header, remote: remote, datagrams: [(datagram, ecn)])
        heldIncomingIDs[id] = key
        unreportedIncoming.append(IncomingAttempt(id: id, remoteAddress: remote))
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
        guard let connection = acceptConnection(held.header, from: held.remote, now: now) else {
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

    /// Forgets a held attempt without answering (its datagrams are dropped).
    public func ignoreIncoming(_ id: UInt64) {
        guard let key = heldIncomingIDs.removeValue(forKey: id), let held = heldIncoming.removeValue(forKey: key)
        else { return }
        droppedDatagrams += UInt64(held.datagrams.count)
    }
}

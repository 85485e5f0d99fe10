import Ferry
import FerryCrypto
import FerryDaemon

/// The relay's forwarding fast path for one QUIC client (docs/relay.md §4.5).
///
/// A `sendPacket` DATAGRAM to a client that is linked over QUIC to this same relay becomes that client's
/// `receivePacket` DATAGRAM inside the endpoint's driver: the message is rewritten in place (the two messages have
/// the same layout, a type byte and a 32-byte id before the packet) and queued on the destination connection, with
/// no task hop and no copy. Everything else (a destination over TCP or behind a mesh relay, an unknown one, a
/// packet too large for the destination's datagrams, control messages, malformed input) is declined and takes
/// the session's ordinary path, which answers, frames or closes as before. Rate limits, counters and drops are
/// the same on both paths.
struct RelayFastPath: DatagramSwitch {
    let source: EndpointID
    let forwarder: RelayForwarder
    let limiter: Locked<RelayRateLimiter>

    func switchDatagram(_ datagram: inout [UInt8], board: DatagramSwitchboard) -> Bool {
        let header = RelayMessage.packetOverhead
        guard datagram.count > header, datagram.count - header <= RelayMessage.maximumPacketSize,
            datagram[0] == RelayMessage.TypeCode.sendPacket.rawValue,
            let destination = EndpointID(rawValue: Array(datagram[1..<header])),
            let outlet = forwarder.quicOutlet(for: destination)
        else { return false }
        let packetSize = datagram.count - header
        guard limiter.withLock({ $0.allow(packetSize, now: RelayClock.seconds()) }) else {
            forwarder.countIncoming(from: source)
            forwarder.drop(.rateLimited)
            return true
        }
        datagram[0] = RelayMessage.TypeCode.receivePacket.rawValue
        datagram.withUnsafeMutableBufferPointer { bytes in
            for (offset, byte) in source.rawValue.enumerated() { bytes[1 + offset] = byte }
        }
        let result: RelayOfferResult
        switch board.send(datagram, on: outlet.connection) {
        case .success: result = .sent
        case .failure(.queueFull): result = .queueFull
        case .failure(.connectionClosed): result = .closed
        case .failure(.tooLarge), .failure(.unsupportedByPeer):
            // The slow path sends it on the relay stream instead: give it the message as the client sent it.
            datagram[0] = RelayMessage.TypeCode.sendPacket.rawValue
            datagram.withUnsafeMutableBufferPointer { bytes in
                for (offset, byte) in destination.rawValue.enumerated() { bytes[1 + offset] = byte }
            }
            return false
        }
        forwarder.countIncoming(from: source)
        forwarder.record(result, bytes: packetSize, to: destination, viaMesh: false)
        return true
    }
}

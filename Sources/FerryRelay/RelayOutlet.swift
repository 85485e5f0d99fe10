import Ferry
import FerryCrypto

/// Somewhere the relay puts messages for one peer (a client or a mesh relay) without waiting on it.
///
/// Every outlet is bounded: a QUIC client's datagrams by the transport's send queue (RFC 9221 §5), its relay
/// stream and a TCP client's socket by `RelayConfig.Limits.queuePackets` messages. A full outlet answers
/// `.queueFull` and the relay drops the message and counts it; it never buffers without limit.
protocol RelayOutlet: AnyObject, Sendable {
    /// The authenticated id of the peer behind the outlet.
    var peerID: EndpointID { get }
    /// How the peer is connected.
    var transport: RelayTransportKind { get }
    /// Offers one encoded message (type byte and body). `packetSize` is the size of the QUIC packet inside for a
    /// packet message (which may travel as a DATAGRAM frame), nil for a control message (always on the stream).
    func offer(_ message: [UInt8], packetSize: Int?) async -> RelayOfferResult
    /// Queues a control message on the stream at once (keeps presence announcements in order).
    func offerControl(_ message: [UInt8]) -> RelayOfferResult
    /// Closes the peer's relay connection with an application error code and reason.
    func close(code: UInt64, reason: String)
}

/// What became of an offered message.
enum RelayOfferResult: Sendable, Equatable {
    case sent
    case queueFull
    case tooLarge
    case closed
}

/// A relay peer reached over QUIC: DATAGRAM frames for packets that fit, the relay stream for the rest.
final class QUICRelayOutlet: RelayOutlet {
    let peerID: EndpointID
    var transport: RelayTransportKind { .udp }
    let connection: Connection
    private let streamQueue: AsyncStream<[UInt8]>.Continuation
    /// The framed messages waiting for the relay stream, drained by `runWriter`.
    let pendingStream: AsyncStream<[UInt8]>

    init(peerID: EndpointID, connection: Connection, queueLimit: Int) {
        self.peerID = peerID
        self.connection = connection
        (pendingStream, streamQueue) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(queueLimit))
    }

    func offer(_ message: [UInt8], packetSize: Int?) async -> RelayOfferResult {
        if let packetSize {
            do {
                try await connection.sendDatagram(message)
                return .sent
            } catch {
                switch error {
                case .queueFull: return .queueFull
                case .connectionClosed: return .closed
                case .tooLarge, .unsupportedByPeer:
                    guard packetSize <= RelayMessage.guaranteedPacketSize else { return .tooLarge }
                }
            }
        }
        return offerControl(message)
    }

    func offerControl(_ message: [UInt8]) -> RelayOfferResult {
        var framed: [UInt8] = []
        framed.reserveCapacity(message.count + 2)
        framed.append(UInt8(message.count >> 8))
        framed.append(UInt8(message.count & 0xff))
        framed.append(contentsOf: message)
        switch streamQueue.yield(framed) {
        case .enqueued: return .sent
        case .dropped: return .queueFull
        case .terminated: return .closed
        @unknown default: return .closed
        }
    }

    /// Writes queued stream messages until the stream or the outlet ends.
    func runWriter(_ stream: SendStream) async {
        for await framed in pendingStream {
            do {
                try await stream.write(framed)
            } catch {
                break
            }
        }
        streamQueue.finish()
    }

    /// Stops the writer (the session is over).
    func finish() {
        streamQueue.finish()
    }

    func close(code: UInt64, reason: String) {
        streamQueue.finish()
        connection.close(code: code, reason: reason)
    }
}

import FerryCrypto
import FerryTransport
import NIOCore

/// A byte stream to a relay other than a QUIC connection on the endpoint's socket: the TLS-over-TCP fallback.
///
/// Its channel runs on the driver's event loop, so the driver writes to it synchronously and it hands received
/// messages back on the same loop (`EndpointDriver.relayMessageReceived`).
protocol RelayByteChannel: AnyObject {
    /// Queues framed bytes; false when the channel's bounded send queue is full (the caller drops and counts).
    func send(framed bytes: [UInt8]) -> Bool
    /// Closes the channel.
    func close()
}

/// How a relay link reaches its relay.
enum RelayCarrier {
    /// A QUIC connection with ALPN `ferry/relay/1` from the endpoint's own UDP socket.
    case quic(ConnectionHandle)
    /// TLS over TCP, for networks that block UDP.
    case tcp(any RelayByteChannel)
}

/// The event loop's state for one connection to a relay (docs/relay.md §4).
///
/// Owned by `EndpointDriver.relayState`; only touched on the loop. Every buffer is bounded: stream bytes the
/// transport did not accept wait in `pendingStreamBytes` up to `maximumPendingStreamBytes`, beyond which
/// packets are dropped and counted like any congested link.
final class RelayLink {
    /// The relay's endpoint id (authenticated by the handshake).
    let relayID: EndpointID
    /// Where the relay was dialed.
    let address: EndpointAddress
    let carrier: RelayCarrier
    /// The relay stream (QUIC carrier): client-opened bidirectional stream for framed messages.
    var streamID: StreamID?
    /// Splits the relay stream into messages.
    var decoder = RelayFrameDecoder()
    /// Framed bytes the relay stream has not accepted yet.
    var pendingStreamBytes: [UInt8] = []
    /// Whether the relay answered `clientHello`.
    var isReady = false
    /// When this link was registered (for `RelayStatus.connectedSince`).
    let since: Instant
    /// Outstanding latency probes: payload → when sent.
    var pings: [UInt64: Instant] = [:]
    /// The latest round-trip time measured with ping/pong (TCP) or taken from the QUIC connection.
    var latestRTT: Duration?
    /// Traffic counters.
    var packetsSent: UInt64 = 0
    var packetsReceived: UInt64 = 0
    var packetsDropped: UInt64 = 0

    static let maximumPendingStreamBytes = 256 * 1024

    init(relayID: EndpointID, address: EndpointAddress, carrier: RelayCarrier, since: Instant) {
        self.relayID = relayID
        self.address = address
        self.carrier = carrier
        self.since = since
    }

    var transportKind: RelayTransportKind {
        switch carrier {
        case .quic: .udp
        case .tcp: .tcp
        }
    }
}

/// How an endpoint reaches a relay.
public enum RelayTransportKind: String, Sendable, Hashable, Codable {
    /// QUIC over UDP from the endpoint's socket (the preferred way: the relay sees the socket's NAT mapping).
    case udp
    /// TLS over TCP (the fallback where UDP is blocked).
    case tcp
}

/// The driver's relay bookkeeping: links, the stand-in addresses of relayed paths, counters.
struct RelayRuntimeState {
    /// Links by relay id.
    var links: [EndpointID: RelayLink] = [:]
    /// QUIC relay connections by handle, for event dispatch.
    var linksByHandle: [ConnectionHandle: RelayLink] = [:]
    /// Stand-in addresses of relayed paths.
    var book = RelayAddressBook()
    /// The relay that dialing by id alone goes through first (chosen by `RelayClient`).
    var homeRelay: EndpointID?
    /// Relayed packets dropped because no link to their relay was up.
    var packetsDroppedWithoutLink: UInt64 = 0
    /// Where a relayed packet's bytes are copied before the transport decrypts them in place.
    var receiveScratch: [UInt8] = []
    /// The next ping payload.
    var nextPing: UInt64 = 1

    var isEmpty: Bool { links.isEmpty }
}

import FerryTransport
import Logging
import NIOCore

/// How an `Endpoint` behaves: transport limits plus the runtime's socket, queue and shutdown settings.
///
/// The transport part is advertised to peers as transport parameters (RFC 9000 §18.2); the rest never leaves
/// this process. Defaults match the quinn perf peer (4 MiB socket buffers) so benchmarks compare like with like.
public struct EndpointConfiguration: Sendable {
    /// Transport limits and behaviour for every connection (flow-control windows, idle timeout, stream limits).
    public var transport: TransportConfig
    /// The TLS 1.3 cipher suites offered and accepted (RFC 9001 §5.3), in preference order.
    public var cipherSuites: [CipherSuite]
    /// Length of the connection IDs this endpoint issues (RFC 9000 §5.1), 4…20.
    public var connectionIDLength: Int
    /// How long `Endpoint.close()` waits for peers to see CONNECTION_CLOSE before the socket closes anyway.
    public var closeTimeout: Duration
    /// SO_RCVBUF and SO_SNDBUF in bytes; the kernel caps them at `net.core.{r,w}mem_max`.
    public var socketBufferSize: Int
    /// Datagrams read per `recvmmsg` call.
    public var receiveBatchSize: Int
    /// The largest datagram the receive path accepts; larger ones are truncated and then fail authentication.
    public var maximumReceiveDatagramSize: Int
    /// Datagrams written per flush before the driver yields to reads.
    public var sendBatchSize: Int
    /// Incoming connections that finished their handshake but were not yet accepted; beyond this, new ones are
    /// refused so a slow application cannot make the queue grow without bound.
    public var incomingConnectionQueueLimit: Int
    /// The event loops to run on; nil uses NIO's shared singleton group.
    public var eventLoopGroup: (any EventLoopGroup)?
    /// Where the runtime logs (connection lifecycle at debug, socket failures at error).
    public var logger: Logger
    /// Relays this endpoint keeps a connection to, so peers can reach it by id alone and it can reach them
    /// (docs/relay.md). Empty: no relays, direct addresses only.
    public var relays: [RelayAddress]
    /// Which kinds of path connections may use (`PathMode`).
    public var pathMode: PathMode
    /// The shared token presented to relays whose access is `token` (docs/relay.md §6); empty for none.
    public var relayToken: String
    /// How long a relay dial waits on UDP before racing TLS over TCP too (Happy Eyeballs, RFC 8305 §5 uses
    /// 250 ms for its connection attempt delay; a QUIC handshake needs a round trip more than TCP).
    public var relayTCPFallbackDelay: Duration
    /// The TCP port of relays' TLS fallback; nil uses each relay's UDP port number.
    public var relayTCPPort: UInt16?
    /// DER certificates sent after the identity's own certificate in the TLS Certificate message (RFC 8446
    /// §4.4.2), in both roles. Peers authenticate by the leaf's Ed25519 key, so these are never needed to
    /// connect; they exist to make the handshake flight large, as a CA-issued chain does, for testing the
    /// server's anti-amplification limit (RFC 9000 §8.1) and the client's handling of it (RFC 9002 §6.2.2.1).
    public var certificateChain: [[UInt8]] = []

    /// Creates a configuration; every parameter has a default suited to a LAN or WAN peer.
    public init(
        transport: TransportConfig = TransportConfig(),
        cipherSuites: [CipherSuite] = CipherSuite.allCases,
        connectionIDLength: Int = 8,
        closeTimeout: Duration = .seconds(3),
        socketBufferSize: Int = 4 << 20,
        receiveBatchSize: Int = 64,
        maximumReceiveDatagramSize: Int = 2048,
        sendBatchSize: Int = 64,
        incomingConnectionQueueLimit: Int = 256,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "ferry"),
        relays: [RelayAddress] = [],
        pathMode: PathMode = .auto,
        relayToken: String = "",
        relayTCPFallbackDelay: Duration = .milliseconds(500),
        relayTCPPort: UInt16? = nil
    ) {
        self.transport = transport
        self.cipherSuites = cipherSuites
        self.connectionIDLength = connectionIDLength
        self.closeTimeout = closeTimeout
        self.socketBufferSize = socketBufferSize
        self.receiveBatchSize = receiveBatchSize
        self.maximumReceiveDatagramSize = maximumReceiveDatagramSize
        self.sendBatchSize = sendBatchSize
        self.incomingConnectionQueueLimit = incomingConnectionQueueLimit
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.relays = relays
        self.pathMode = pathMode
        self.relayToken = relayToken
        self.relayTCPFallbackDelay = relayTCPFallbackDelay
        self.relayTCPPort = relayTCPPort
    }
}

/// Which kinds of path an endpoint's connections may use.
public enum PathMode: String, Sendable, Hashable, CaseIterable {
    /// Direct addresses when the peer's address lists them, relays otherwise (and for an id alone).
    case auto
    /// Relays only: the endpoint never dials a peer's IP address, so peers never learn its addresses from it
    /// (privacy; docs/relay.md §7). Incoming direct connections are still accepted when the endpoint accepts.
    case relayOnly = "relay-only"
    /// Direct addresses only: relays are not used even when configured.
    case directOnly = "direct-only"
}

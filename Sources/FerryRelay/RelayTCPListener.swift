import Ferry
import FerryCrypto
import FerryDaemon
import Logging
import NIOCore
import NIOPosix

/// The TLS-over-TCP side of a relay (docs/relay.md §3.1): the same relay messages, framed on a TLS 1.3 stream,
/// for clients whose network blocks UDP.
///
/// TLS authenticates the client's key exactly as QUIC does, so the access list applies by id; the token is checked
/// in the hello. Every client gets a bounded inbound queue (`queuePackets` messages; beyond it messages are dropped)
/// and its outgoing writes are bounded by the channel's writability.
final class RelayTCPListener: Sendable {
    let localAddress: HostPort
    private let channel: any Channel

    private init(localAddress: HostPort, channel: any Channel) {
        self.localAddress = localAddress
        self.channel = channel
    }

    static func bind(
        address: HostPort, identity: EndpointIdentity, server: RelayServer, eventLoopGroup: any EventLoopGroup
    ) async throws -> RelayTCPListener {
        let forwarder = server.forwarder
        let config = server.config
        let logger = server.logger
        let meshIDs = Set(config.mesh.map(\.id))
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = try TLSStreamSession(identity: identity, role: .server, alpn: RelayMessage.alpn)
                    let handler = RelayTLSHandler(session: session)
                    let client = TCPRelayClient(
                        handler: handler, channel: channel, forwarder: forwarder, config: config, meshIDs: meshIDs,
                        logger: logger)
                    client.install()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: address.host, port: Int(address.port)).get()
        let port = channel.localAddress?.port ?? Int(address.port)
        return RelayTCPListener(localAddress: HostPort(host: address.host, port: UInt16(clamping: port)), channel: channel)
    }

    /// Serves until closed.
    func run() async {
        try? await channel.closeFuture.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// One TCP client of the relay: its outlet and the task that forwards what it sends.
final class TCPRelayClient: RelayOutlet, @unchecked Sendable {
    // @unchecked: `handler` and `peer` are touched only on the channel's event loop (callbacks and `execute`);
    // `pending` is behind a lock.
    let handler: RelayTLSHandler
    /// The handler for closures that hop onto the channel's loop (made in `init`, which runs there).
    private let boundHandler: NIOLoopBound<RelayTLSHandler>
    let channel: any Channel
    let forwarder: RelayForwarder
    let config: RelayConfig
    let meshIDs: Set<EndpointID>
    let logger: Logger
    private let inbound: AsyncStream<RelayMessage>
    private let inboundQueue: AsyncStream<RelayMessage>.Continuation
    private let identity = Locked<EndpointID?>(nil)
    private let pending = Locked(0)

    var peerID: EndpointID { identity.current ?? forwarder.relayID }
    var transport: RelayTransportKind { .tcp }

    init(
        handler: RelayTLSHandler, channel: any Channel, forwarder: RelayForwarder, config: RelayConfig,
        meshIDs: Set<EndpointID>, logger: Logger
    ) {
        self.handler = handler
        self.boundHandler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.channel = channel
        self.forwarder = forwarder
        self.config = config
        self.meshIDs = meshIDs
        self.logger = logger
        (inbound, inboundQueue) = AsyncStream.makeStream(of: RelayMessage.self, bufferingPolicy: .bufferingOldest(config.limits.queuePackets))
    }

    /// Wires the handler's callbacks (on the channel's loop, before it is active).
    func install() {
        handler.onEstablished = { [self] peer in
            identity.withLock { $0 = peer }
            if let refusal = accessRefusal(peer) {
                forwarder.metrics.refused("unauthorized")
                handler.close(code: UInt8(RelayCloseCode.unauthorized), reason: refusal)
                return
            }
            Task { await self.serve() }
        }
        handler.onMessage = { [self] message in
            if case .dropped = inboundQueue.yield(message) { forwarder.drop(.queueFull) }
        }
        handler.onClosed = { [self] _ in inboundQueue.finish() }
    }

    /// The access list by id (a token is checked in the hello).
    private func accessRefusal(_ peer: EndpointID) -> String? {
        guard !meshIDs.contains(peer) else { return nil }
        switch config.access {
        case .allowlist(let ids) where !ids.contains(peer): return "not on the relay's allowlist"
        case .denylist(let ids) where ids.contains(peer): return "on the relay's denylist"
        default: return nil
        }
    }

    private func serve() async {
        var iterator = inbound.makeAsyncIterator()
        guard let hello = await nextWithTimeout(&iterator) else {
            forwarder.metrics.refused("hello_timeout")
            return close(code: RelayCloseCode.helloTimeout, reason: "no hello within \(config.limits.helloTimeout)")
        }
        guard case .clientHello(let version, let isMeshPeer, let token) = hello, !isMeshPeer else {
            forwarder.metrics.refused("protocol")
            return close(code: RelayCloseCode.protocolViolation, reason: "expected a client hello (mesh links use QUIC)")
        }
        guard version == RelayMessage.version else {
            return close(code: RelayCloseCode.protocolViolation, reason: "unsupported relay protocol version \(version)")
        }
        if case .token(let expected) = config.access, token != Array(expected.utf8) {
            forwarder.metrics.refused("unauthorized")
            return close(code: RelayCloseCode.unauthorized, reason: token.isEmpty ? "relay requires a token" : "wrong relay token")
        }
        guard forwarder.register(self) else {
            forwarder.metrics.refused("full")
            return close(code: RelayCloseCode.full, reason: "relay is full")
        }
        _ = offerControl(RelayMessage.serverHello(version: RelayMessage.version).encoded)
        var limiter = RelayRateLimiter(bytesPerSecond: config.limits.bytesPerSecond, burstBytes: config.limits.burstBytes)
        while let message = await iterator.next() {
            switch message {
            case .sendPacket(let destination, let packet):
                guard limiter.allow(packet.count, now: RelayClock.seconds()) else {
                    forwarder.drop(.rateLimited)
                    continue
                }
                await forwarder.forward(from: self, to: destination, packet: packet)
            case .ping(let payload):
                _ = offerControl(RelayMessage.pong(payload).encoded)
            case .pong:
                break
            default:
                forwarder.metrics.refused("protocol")
                close(code: RelayCloseCode.protocolViolation, reason: "\(RelayProtocolError.unexpected(message.typeCode))")
            }
        }
        forwarder.unregister(self)
    }

    private func nextWithTimeout(_ iterator: inout AsyncStream<RelayMessage>.Iterator) async -> RelayMessage? {
        let timeout = config.limits.helloTimeout
        let channel = self.channel
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { channel.close(promise: nil) }
        }
        defer { timer.cancel() }
        return await iterator.next()
    }

    func offer(_ message: [UInt8], packetSize: Int?) async -> RelayOfferResult {
        if let packetSize, packetSize > RelayMessage.guaranteedPacketSize { return .tooLarge }
        return offerControl(message)
    }

    func offerControl(_ message: [UInt8]) -> RelayOfferResult {
        let limit = config.limits.queuePackets
        guard pending.withLock({ count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }) else { return .queueFull }
        let framed = [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message
        let handler = boundHandler
        let pending = self.pending
        let forwarder = self.forwarder
        channel.eventLoop.execute {
            pending.withLock { $0 -= 1 }
            if !handler.value.send(framed: framed) { forwarder.drop(.queueFull) }
        }
        return .sent
    }

    func close(code: UInt64, reason: String) {
        let handler = boundHandler
        channel.eventLoop.execute { handler.value.close(code: UInt8(clamping: code), reason: reason) }
    }
}

import FerryCrypto
import FerryTransport
import NIOCore
import NIOPosix

/// A relay link's TCP connection as the driver sees it (`RelayByteChannel`): writes go through the TLS handler.
final class TCPRelayChannel: RelayByteChannel {
    let handler: RelayTLSHandler
    let channel: any Channel

    init(handler: RelayTLSHandler, channel: any Channel) {
        self.handler = handler
        self.channel = channel
    }

    func send(framed bytes: [UInt8]) -> Bool {
        handler.send(framed: bytes)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Dials a relay over TLS on TCP, on the driver's own event loop, and registers the link (docs/relay.md §3.1).
enum RelayTCPDialer {
    /// Connects to `relay` on TCP `port`; true once the link is registered. The TLS handshake proves the relay's
    /// key, like the QUIC one. A link that finds a ready link to the same relay already (the UDP dial won the
    /// race) closes itself and reports false.
    static func dial(
        relay: RelayAddress, remote: NetworkAddress, port: UInt16, identity: EndpointIdentity, core: EndpointCore,
        timeout: Duration
    ) async -> Bool {
        let driver = core.driver
        guard case .success(let channel) = await connectTLS(
            relay: relay, remote: remote, port: port, identity: identity, timeout: timeout, eventLoop: driver.eventLoop)
        else { return false }
        return await driver.compute { driver in
            guard let handler = try? channel.pipeline.syncOperations.handler(type: RelayTLSHandler.self) else {
                channel.close(promise: nil)
                return false
            }
            let tcp = TCPRelayChannel(handler: handler, channel: channel)
            guard driver.registerRelayLink(channel: tcp, address: relay.endpointAddress) else {
                channel.close(promise: nil)
                return false
            }
            handler.onMessage = { message in driver.relayTCPMessage(message, relay: relay.id, channel: tcp) }
            handler.onClosed = { _ in driver.relayTCPLinkClosed(relay: relay.id, channel: tcp) }
            return true
        }
    }
}

extension RelayTCPDialer {
    /// A TCP connection to the relay with a completed TLS handshake that proved the relay's key, on `eventLoop`;
    /// the channel's pipeline holds one `RelayTLSHandler`. Bounded by `timeout` (connect and handshake).
    static func connectTLS(
        relay: RelayAddress, remote: NetworkAddress, port: UInt16, identity: EndpointIdentity, timeout: Duration,
        eventLoop: any EventLoop
    ) async -> Result<any Channel, RelayDialError> {
        guard let target = remote.socketAddress(port: port) else { return .failure(RelayDialError(reason: "bad address")) }
        let established = eventLoop.makePromise(of: EndpointID.self)
        let timer = eventLoop.scheduleTask(in: timeout.timeAmount) {
            established.fail(RelayDialError(reason: "no TLS handshake within \(timeout)"))
        }
        defer { timer.cancel() }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout.timeAmount)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let session = try TLSStreamSession(
                            identity: identity, role: .client(expectedPeer: relay.id), alpn: RelayMessage.alpn)
                        let handler = RelayTLSHandler(session: session)
                        handler.onEstablished = { established.succeed($0) }
                        handler.onClosed = { established.fail(RelayDialError(reason: $0)) }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(to: target).get()
        } catch {
            established.fail(RelayDialError(reason: "\(error)"))
            return .failure(RelayDialError(reason: "\(error)"))
        }
        do {
            _ = try await established.futureResult.get()
            return .success(channel)
        } catch {
            channel.close(promise: nil)
            return .failure(error as? RelayDialError ?? RelayDialError(reason: "\(error)"))
        }
    }
}

struct RelayDialError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

extension NetworkAddress {
    /// The address with another port as a NIO socket address.
    func socketAddress(port: UInt16) -> SocketAddress? {
        try? SocketAddress(ipAddress: hostPort.host, port: Int(port))
    }
}

extension EndpointDriver {
    /// A message that arrived on a TCP relay link (on this loop).
    func relayTCPMessage(_ message: RelayMessage, relay: EndpointID, channel: TCPRelayChannel) {
        guard let link = relayState.links[relay], case .tcp(let current) = link.carrier, current === channel else { return }
        relayMessageReceived(message, on: link)
    }

    /// A TCP relay link's connection ended.
    func relayTCPLinkClosed(relay: EndpointID, channel: TCPRelayChannel) {
        guard let link = relayState.links[relay], case .tcp(let current) = link.carrier, current === channel else { return }
        relayState.links.removeValue(forKey: relay)
        logger.debug("relay link down (TCP)", metadata: ["relay": "\(link.address)"])
    }
}

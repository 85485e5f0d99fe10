import FerryTransport
import NIOCore

/// Local send failures: a datagram the local network stack refuses as too large (EMSGSIZE).
///
/// NIO reports EMSGSIZE only through the failed write's promise (the socket stays open, nothing reaches
/// `errorCaught`), and a promise per write would cost an allocation per datagram. So only writes larger than the
/// largest size already accepted for that destination carry one (`LocalSendSizes`): a handful per peer, as
/// DPLPMTUD raises the datagram size step by step (RFC 8899). A refused datagram of `size` bytes means the local
/// path carries at most `size - 1`, which goes to the transport's `handleLocalPathMTU(_:now:)`: below QUIC's
/// 1200-byte minimum the connection closes with NO_VIABLE_PATH (RFC 9000 §14, §20.1) instead of timing out;
/// at or above it, DPLPMTUD's own loss handling lowers the size (RFC 8899 §4.3).
extension EndpointDriver {
    /// A promise for a write of datagrams of `size` bytes to `destination`, or nil when a datagram that large
    /// already went out to it.
    func makeSendSizeProbe(size: Int, to destination: NetworkAddress) -> EventLoopPromise<Void>? {
        guard sendSizes.needsProbe(size: size, to: destination) else { return nil }
        return makeWritePromise { driver, result in
            switch result {
            case .success:
                driver.sendSizes.confirm(size: size, to: destination)
            case .failure(let error):
                guard let channelError = error as? ChannelError, channelError == .writeMessageTooLarge else {
                    driver.logger.debug("datagram write failed", metadata: ["to": "\(destination)", "error": "\(error)"])
                    return
                }
                driver.localPathRefused(size: size, to: destination)
            }
        }
    }

    /// A promise for one write whose outcome `completion` handles on the loop.
    func makeWritePromise(
        _ completion: @escaping @Sendable (EndpointDriver, Result<Void, any Error>) -> Void
    ) -> EventLoopPromise<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let bound = loopBound
        promise.futureResult.whenComplete { result in completion(bound.value, result) }
        return promise
    }

    /// The local stack refused a `size`-byte datagram to `destination` (EMSGSIZE): report the path MTU to every
    /// connection on that path.
    func localPathRefused(size: Int, to destination: NetworkAddress) {
        logger.notice(
            "local network stack refused a datagram as too large (EMSGSIZE)",
            metadata: ["to": "\(destination)", "size": "\(size)"]
        )
        let now = LoopClock.now()
        for handle in connections.keys {
            guard let connection = transport.connection(handle), connection.remoteAddress == destination else { continue }
            connection.handleLocalPathMTU(size - 1, now: now)
        }
        scheduleDrive()
    }
}

/// The largest datagram the local stack has accepted per destination, so only larger writes are checked.
///
/// A one-entry memo serves the usual case (a batch to one peer) without hashing; the dictionary is bounded like
/// `SocketAddressCache` and simply starts over when full (forgetting only costs a few more checked writes).
struct LocalSendSizes {
    private var confirmed: [NetworkAddress: Int] = [:]
    private var lastDestination: NetworkAddress?
    private var lastConfirmed = 0
    private static let destinationLimit = 4096

    /// Whether a write of `size` bytes to `destination` needs a promise (nothing that large confirmed yet).
    mutating func needsProbe(size: Int, to destination: NetworkAddress) -> Bool {
        if let lastDestination, lastDestination == destination { return size > lastConfirmed }
        let known = confirmed[destination] ?? 0
        lastDestination = destination
        lastConfirmed = known
        return size > known
    }

    /// Records that a `size`-byte datagram to `destination` went out.
    mutating func confirm(size: Int, to destination: NetworkAddress) {
        let known = confirmed[destination] ?? 0
        guard size > known else { return }
        if confirmed.count >= Self.destinationLimit { confirmed.removeAll(keepingCapacity: true) }
        confirmed[destination] = size
        if lastDestination == destination { lastConfirmed = size }
    }
}

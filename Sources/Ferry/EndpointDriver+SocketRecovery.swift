import FerryTransport
import NIOCore
import NIOPosix

/// Keeping the endpoint's socket when a send fails in a way NIO treats as fatal.
///
/// The first line of defence is `SocketAddressCache.hasRoute(to:)`, which keeps destinations without a route away
/// from the socket; this is the second, for the errors a route check cannot foresee.
///
/// NIO's datagram channel closes itself on a write error other than EMSGSIZE and EHOSTUNREACH: ENETUNREACH, for
/// example, which a host without a route to one peer's address gets, such as a hole-punching candidate in a private
/// range or an IPv6 address on an IPv4-only network. One unroutable destination must not take down every
/// connection of the endpoint, so the driver opens a new socket on the same address and carries on; the datagrams
/// of the failed batch are lost and QUIC's loss recovery resends what matters (RFC 9002 §6). At most
/// `maximumReopensPerMinute` reopenings a minute, so a socket that keeps failing still ends the endpoint.
extension EndpointDriver {
    static let maximumReopensPerMinute = 10

    /// Opens a socket on `address` and moves the driver onto it; false when the budget is spent.
    func reopenSocket(at address: SocketAddress) -> Bool {
        let now = LoopClock.now()
        socketReopenTimes.removeAll { now - $0 > .seconds(60) }
        guard socketReopenTimes.count < Self.maximumReopensPerMinute else { return false }
        socketReopenTimes.append(now)
        addressCache.forgetRoutes()
        context = nil
        let bound = loopBound
        EndpointSocketOptions(configuration: configuration).apply(to: DatagramBootstrap(group: eventLoop))
            .bind(to: address)
            .whenComplete { result in
                let driver = bound.value
                switch result {
                case .success(let channel):
                    guard driver.state == .open else {
                        channel.close(promise: nil)
                        return driver.finishClose(channelAlreadyClosed: true)
                    }
                    do {
                        try channel.pipeline.syncOperations.addHandler(driver)
                    } catch {
                        channel.close(promise: nil)
                        return driver.finishClose(channelAlreadyClosed: true)
                    }
                    driver.isWritable = channel.isWritable
                    driver.configureReceiveOptions(channel: channel)
                    driver.drive()
                case .failure(let error):
                    driver.logger.error("cannot reopen the socket", metadata: ["error": "\(error)"])
                    driver.finishClose(channelAlreadyClosed: true)
                }
            }
        return true
    }
}

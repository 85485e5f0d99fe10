import FerryTransport
import NIOCore
import NIOPosix

/// Moving a running endpoint to a new UDP socket: client-side connection migration for real (RFC 9000 §9.2).
extension Endpoint {
    /// Binds a new UDP socket and moves every connection to it, then closes the old socket.
    ///
    /// Each connection this endpoint dialed migrates (RFC 9000 §9.2): it switches to an unused connection ID of
    /// the peer, validates the new path with PATH_CHALLENGE, and starts with a fresh congestion controller and
    /// RTT estimate unless only the port changed (RFC 9000 §9.4). A peer that sent `disable_active_migration`, or
    /// left no spare connection ID, sees an address change it treats as NAT rebinding. Connections this endpoint
    /// accepted move too, but their peers may not follow a server's new address (servers do not migrate,
    /// RFC 9000 §9). Like quinn's `Endpoint::rebind`, this is how an application reacts to a network change.
    ///
    /// The new socket's address is returned, and `localAddress` and `currentLocalAddress()` report it from then
    /// on. The new socket gets the first one's options: buffer sizes, batched reads, UDP GRO
    /// where the kernel has it, and ECN reporting.
    ///
    /// - Parameters:
    ///   - host: the local IP to bind; it must be of the same family as the first socket.
    ///   - port: the UDP port; 0 picks a free one.
    /// - Returns: the new socket's local address.
    @discardableResult
    public func rebind(host: String = "0.0.0.0", port: Int = 0) async throws(EndpointError) -> HostPort {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw .invalidBindAddress(host: host, port: port)
        }
        let driver = core.driver
        let (eventLoop, options) = await driver.compute { driver in
            (driver.eventLoop, EndpointSocketOptions(configuration: driver.configuration))
        }
        let bootstrap = options.apply(to: DatagramBootstrap(group: eventLoop))
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(to: socketAddress).get()
        } catch let error as IOError {
            throw .bindFailed(host: host, port: port, errno: error.errnoCode)
        } catch {
            throw .bindFailed(host: host, port: port, errno: 0)
        }
        let moved: HostPort? = await driver.compute { driver in
            let moved = driver.moveToSocket(channel)
            // A new port is a new set of candidates: relayed connections offer them and punch again.
            if moved != nil { driver.refreshCandidates(reason: "rebind") }
            return moved
        }
        guard let moved else {
            channel.close(promise: nil)
            throw .bindFailed(host: host, port: port, errno: 0)
        }
        localAddressBox.withLock { $0 = moved }
        return moved
    }

    /// The local address of the socket the endpoint currently uses (it changes with `rebind`).
    public func currentLocalAddress() async -> HostPort {
        await core.driver.compute { $0.localHostPort }
    }

    /// Whether the current socket has UDP GRO and ECN reporting on, and whether GRO should be (the kernel has it
    /// and `FERRY_DISABLE_GRO` is unset); for tests of `rebind`.
    func currentSocketReceiveOptions() async -> (isGROEnabled: Bool, isECNEnabled: Bool, isGROExpected: Bool) {
        let isGROExpected = System.supportsUDPReceiveOffload && !EndpointDriver.isDisabled("FERRY_DISABLE_GRO")
        return await core.driver.compute { driver in
            guard let options = driver.context?.channel.syncOptions else { return (false, false, isGROExpected) }
            return (
                (try? options.getOption(.datagramReceiveOffload)) ?? false,
                (try? options.getOption(.explicitCongestionNotification)) ?? false,
                isGROExpected)
        }
    }
}

/// The bootstrap options of an endpoint socket, from its configuration: socket buffer sizes, batched reads into
/// a fixed-size allocator, and the write watermarks. GRO and ECN reporting are set once the driver sees the
/// channel (`EndpointDriver.configureReceiveOptions`). The first socket (`Endpoint.bind`) and a rebound one share
/// them.
struct EndpointSocketOptions: Sendable {
    var socketBufferSize: Int
    var batch: Int
    var datagramSize: Int

    init(configuration: EndpointConfiguration) {
        socketBufferSize = configuration.socketBufferSize
        batch = max(1, configuration.receiveBatchSize)
        datagramSize = max(configuration.maximumReceiveDatagramSize, 1500)
    }

    /// `bootstrap` with these options set.
    func apply(to bootstrap: DatagramBootstrap) -> DatagramBootstrap {
        bootstrap
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(socketBufferSize))
            .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(socketBufferSize))
            .channelOption(.datagramVectorReadMessageCount, value: batch)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: batch * datagramSize))
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
    }
}

extension EndpointDriver {
    /// On the loop: makes `channel` the endpoint's socket, closes the old one and migrates the connections this
    /// endpoint dialed (RFC 9000 §9.2). Returns nil (changing nothing) when the endpoint is closing.
    func moveToSocket(_ channel: any Channel) -> HostPort? {
        guard state == .open, let oldChannel = context?.channel else { return nil }
        let oldLocal = oldChannel.localAddress.flatMap(SocketAddressCache.convert)
        let newLocal = channel.localAddress.flatMap(SocketAddressCache.convert)
        do {
            // handlerAdded points `context` at the new channel; the old one's events are ignored from now on.
            try channel.pipeline.syncOperations.addHandler(self)
        } catch {
            return nil
        }
        isWritable = channel.isWritable
        boundAddress = channel.localAddress
        addressCache.forgetRoutes()
        // The channel was active before the driver joined it, so `channelActive` will not set these.
        configureReceiveOptions(channel: channel)
        oldChannel.close(promise: nil)
        let now = LoopClock.now()
        for handle in connections.keys {
            guard let connection = transport.connection(handle), connection.side == .client, !connection.isClosed
            else { continue }
            do {
                try connection.migrate(to: newLocal, from: oldLocal, now: now)
            } catch {
                // The peer sees a new address and follows it as a NAT rebinding (RFC 9000 §9.3).
                logger.debug(
                    "connection not migrated", metadata: ["handle": "\(handle)", "reason": "\(error)"])
            }
        }
        logger.debug("endpoint rebound", metadata: ["address": "\(newLocal?.description ?? "?")"])
        drive()
        return newLocal?.hostPort ?? localHostPort
    }
}

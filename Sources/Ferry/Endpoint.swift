import FerryTransport
import Logging
import NIOCore
import NIOPosix

/// A QUIC endpoint: one UDP socket that dials and accepts any number of connections.
///
/// Endpoints are identified by an Ed25519 key (`id`); dialing is by id, and TLS is mutual (RFC 9001 §4.4 with
/// the certificate key pinned to the id), so every `Connection` knows its peer's id. All connections share the
/// socket; datagrams are routed to them by connection ID (RFC 9000 §5.2).
public final class Endpoint: Sendable {
    /// This endpoint's id (its Ed25519 public key).
    public let id: EndpointID
    /// The socket's local address (the real port when bound to port 0); after `rebind`, the new socket's.
    public var localAddress: HostPort { localAddressBox.withLock { $0 } }
    /// Where `localAddress` is kept; `rebind` updates it.
    let localAddressBox: HookLock<HostPort>
    /// The ALPN protocols this endpoint accepts now (`addALPN`, `removeALPN`); empty when it only dials, or when
    /// every protocol was removed (then each incoming handshake fails with no_application_protocol).
    public var alpns: [String] { acceptedALPNs.protocols.map { String(decoding: $0, as: UTF8.self) } }
    /// Whether the endpoint accepts incoming connections at all; fixed at `bind`.
    public let acceptsIncoming: Bool
    /// The live ALPN list the TLS provider reads for every new server handshake.
    let acceptedALPNs: AcceptedALPNs

    let core: EndpointCore
    /// The installed hooks; `connect` runs their `beforeConnect` stage in the caller's task.
    let hooks: HookChain
    /// Runs the shutdown hooks on the first `close()`.
    let lifecycle: LifecycleRunner
    /// Whether `close()` already ran the shutdown hooks.
    private let isShutdownStarted = HookLock(false)
    /// The relays this endpoint keeps links to, and which kinds of path it may use.
    public let relays: [RelayAddress]
    public let pathMode: PathMode
    /// Keeps the relay links up; nil without relays (or in `.directOnly` mode).
    let relayClient: RelayClient?

    private init(
        id: EndpointID,
        localAddress: HostPort,
        acceptedALPNs: AcceptedALPNs,
        acceptsIncoming: Bool,
        core: EndpointCore,
        hooks: HookChain,
        lifecycle: LifecycleRunner,
        relays: [RelayAddress],
        pathMode: PathMode
    ) {
        self.relays = relays
        self.pathMode = pathMode
        self.relayClient = relays.isEmpty || pathMode == .directOnly ? nil : RelayClient(relays: relays)
        self.id = id
        self.localAddressBox = HookLock(localAddress)
        self.acceptedALPNs = acceptedALPNs
        self.acceptsIncoming = acceptsIncoming
        self.core = core
        self.hooks = hooks
        self.lifecycle = lifecycle
    }

    /// This endpoint's dialable address, `ID@ip:port`.
    public var address: EndpointAddress {
        EndpointAddress(id: id, directAddresses: [localAddress])
    }

    /// Binds a UDP socket and starts an endpoint on it.
    ///
    /// - Parameters:
    ///   - host: the local IP to bind (`0.0.0.0`, `::` for dual stack, or a specific address).
    ///   - port: the UDP port; 0 picks a free one (see `localAddress`).
    ///   - identity: the Ed25519 key pair whose public key is this endpoint's id.
    ///   - alpns: the application protocols this endpoint accepts from dialing peers; empty = dial only.
    ///   - acceptsIncoming: whether to accept incoming connections; nil means "when `alpns` is not empty". Pass
    ///     true with no ALPNs to add them later (`addALPN`): until then every handshake is refused in TLS.
    ///   - configuration: transport limits and runtime settings.
    ///   - hooks: policy hooks consulted before dialing, for incoming attempts and after every handshake, in
    ///     order, each under the chain's deadline (docs/hooks.md); an array literal of hooks works here.
    ///   - lifecycle: start hooks run in order before the socket is bound (the first error aborts `bind` with
    ///     `.startHookFailed`); shutdown hooks run concurrently, under one deadline, on the first `close()`.
    public static func bind(
        host: String = "0.0.0.0",
        port: Int = 0,
        identity: EndpointIdentity,
        alpns: [String],
        acceptsIncoming: Bool? = nil,
        configuration: EndpointConfiguration = EndpointConfiguration(),
        hooks: HookChain = HookChain(),
        lifecycle: LifecycleHooks = LifecycleHooks()
    ) async throws(EndpointError) -> Endpoint {
        let acceptsIncoming = acceptsIncoming ?? !alpns.isEmpty
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw .invalidBindAddress(host: host, port: port)
        }
        let crypto: OpenSSLCryptoProvider
        let acceptedALPNs: AcceptedALPNs
        do {
            acceptedALPNs = try AcceptedALPNs(names: acceptsIncoming ? alpns : [])
        } catch {
            throw .tlsSetupFailed(HandshakeError(alert: HandshakeError.internalError, reason: error.description))
        }
        do {
            crypto = try OpenSSLCryptoProvider(
                identity: identity,
                acceptedALPNs: acceptedALPNs,
                cipherSuites: configuration.cipherSuites,
                certificateChain: configuration.certificateChain
            )
        } catch {
            throw .tlsSetupFailed(error)
        }
        // Keys from the identity, so stateless resets and address tokens survive a restart (RFC 9000 §10.3).
        let derivedKeys: EndpointIdentity.DerivedKeys
        do {
            derivedKeys = try identity.derivedKeys()
        } catch {
            throw .tlsSetupFailed(HandshakeError(alert: HandshakeError.internalError, reason: "\(error)"))
        }
        let endpointConfig = EndpointConfig(
            transport: configuration.transport,
            crypto: crypto,
            connectionIDLength: configuration.connectionIDLength,
            acceptsIncoming: acceptsIncoming,
            statelessResetKey: derivedKeys.statelessReset,
            addressValidation: AddressValidationConfig(tokenKey: derivedKeys.addressToken)
        )
        let lifecycleRunner = LifecycleRunner(hooks: lifecycle, logger: configuration.logger)
        do {
            try await lifecycleRunner.runStart()
        } catch {
            throw .startHookFailed(error)
        }
        let group = configuration.eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        let eventLoop = group.next()
        let socketIsIPv6 = socketAddress.protocol == .inet6
        let localID = identity.id
        // The same options as a rebound socket's (`Endpoint.rebind`).
        let bootstrap = EndpointSocketOptions(configuration: configuration)
            .apply(to: DatagramBootstrap(group: eventLoop))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let driver = EndpointDriver(
                        transport: TransportEndpoint(config: endpointConfig),
                        configuration: configuration,
                        eventLoop: channel.eventLoop,
                        localID: localID,
                        acceptsIncoming: acceptsIncoming,
                        socketIsIPv6: socketIsIPv6
                    )
                    try channel.pipeline.syncOperations.addHandler(driver)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(to: socketAddress).get()
        } catch let error as IOError {
            throw .bindFailed(host: host, port: port, errno: error.errnoCode)
        } catch {
            throw .bindFailed(host: host, port: port, errno: 0)
        }
        let driver: NIOLoopBound<EndpointDriver>
        do {
            driver = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: EndpointDriver.self),
                    eventLoop: channel.eventLoop
                )
            }.get()
        } catch {
            channel.close(promise: nil)
            throw .bindFailed(host: host, port: port, errno: 0)
        }
        let core = EndpointCore(driver: driver, eventLoop: channel.eventLoop)
        await driver.compute { driver in
            driver.core = core
            driver.hookState.chain = hooks
            // With hooks, new attempts wait in the transport for the incoming filter (before any TLS work).
            driver.hookState.holdsIncoming = !hooks.isEmpty && acceptsIncoming
            driver.transport.holdsIncoming = driver.hookState.holdsIncoming
        }
        let local = channel.localAddress.flatMap(SocketAddressCache.convert)?.hostPort ?? HostPort(host: host, port: 0)
        configuration.logger.debug("endpoint bound", metadata: ["id": "\(localID)", "address": "\(local)"])
        let endpoint = Endpoint(
            id: localID,
            localAddress: local,
            acceptedALPNs: acceptedALPNs,
            acceptsIncoming: acceptsIncoming,
            core: core,
            hooks: hooks,
            lifecycle: lifecycleRunner,
            relays: configuration.relays,
            pathMode: configuration.pathMode
        )
        let socketIsIPv6Address = local.host.contains(":")
        endpoint.relayClient?.start(core: core, identity: identity, configuration: configuration) { hostPort in
            Endpoint.resolve(hostPort, socketIsIPv6: socketIsIPv6Address)
        }
        return endpoint
    }

    deinit {
        relayClient?.stop()
    }

    /// Accepts `alpn` from the next incoming handshake on (after the protocols already accepted, in preference
    /// order); returns false when it already was. Handshakes in flight keep the list they started with.
    ///
    /// Throws `.endpointDoesNotAccept` on an endpoint bound to dial only (its socket drops incoming Initials,
    /// so it would never be reached) and `.emptyProtocolID`/`.protocolIDTooLong` for an id RFC 7301 forbids.
    @discardableResult
    public func addALPN(_ alpn: String) throws(ALPNError) -> Bool {
        guard acceptsIncoming else { throw .endpointDoesNotAccept }
        return try acceptedALPNs.insert(Array(alpn.utf8))
    }

    /// Stops accepting `alpn` for new connections; returns false when it was not accepted.
    ///
    /// Established connections on `alpn` are not touched, and a handshake already in flight may still complete
    /// with it. A new client offering only removed protocols fails in TLS with no_application_protocol, carried
    /// as CONNECTION_CLOSE 0x0178 (RFC 9001 §8.1). The endpoint keeps accepting at the transport level even
    /// when the last protocol is removed: every handshake is then refused that way, and `addALPN` can reopen it.
    @discardableResult
    public func removeALPN(_ alpn: String) -> Bool {
        acceptedALPNs.remove(Array(alpn.utf8))
    }

    /// Dials `address`, offering one ALPN protocol; returns once the handshake completed.
    ///
    /// The peer must prove it holds `address.id`'s key; otherwise the handshake fails with
    /// `.closed(.tlsFailure(...))` and no `Connection` is handed out.
    public func connect(to address: EndpointAddress, alpn: String) async throws(ConnectionError) -> Connection {
        try await connect(to: address, alpns: [alpn])
    }

    /// Dials `address`, offering `alpns` in preference order.
    ///
    /// Candidate addresses are tried in order until one completes a handshake. A TLS failure stops the search:
    /// the id, not the address, is what failed. (Racing candidates, Happy Eyeballs style, is future work.)
    ///
    /// Hooks: `beforeConnect` runs for each offered ALPN before anything is sent, and any rejection fails with
    /// `.locallyRejected`; `afterHandshake` runs before this returns, and a rejection closes the connection with
    /// the hook's code and reason and fails with `.locallyRejected`.
    public func connect(to address: EndpointAddress, alpns: [String]) async throws(ConnectionError) -> Connection {
        if !hooks.isEmpty {
            for alpn in alpns {
                let decision = await hooks.runBeforeConnect(remote: address, alpn: alpn)
                if decision.outcome == .reject {
                    let hook = decision.decidedBy ?? HookIdentity(position: 0, typeName: "HookChain")
                    throw .locallyRejected(HookRejection(stage: .beforeConnect, hook: hook, failure: decision.failure))
                }
            }
        }
        let alpnBytes = alpns.map { Array($0.utf8) }
        if pathMode == .relayOnly || (address.directAddresses.isEmpty && pathMode != .directOnly) {
            return try await connectThroughRelays(to: address, alpns: alpnBytes)
        }
        let candidates = resolve(address)
        guard !candidates.isEmpty else {
            throw address.directAddresses.isEmpty ? .noRoute(address.id) : .unresolvableAddress(address)
        }
        var lastError = ConnectionError.unresolvableAddress(address)
        for remote in candidates {
            switch await dial(remote, peer: address.id, alpns: alpnBytes) {
            case .success(let connection):
                return connection
            case .failure(let error):
                switch error {
                case .closed(.tlsFailure), .cancelled, .endpointClosed, .locallyRejected:
                    throw error
                default:
                    lastError = error
                }
            }
        }
        throw lastError
    }

    /// One handshake with `peer` at a transport address (direct, or a relayed path's stand-in); cancellable.
    private func dial(_ remote: NetworkAddress, peer: EndpointID, alpns: [[UInt8]]) async -> Result<Connection, ConnectionError> {
        let token = WaiterToken()
        return await core.driver.performCancellable { driver, resumer in
            driver.connect(to: remote, expectedPeer: peer, alpns: alpns, token: token, resumer: resumer)
        } onCancel: { driver in
            driver.cancelConnect(token: token)
        }
    }

    /// How long dialing by id waits for the first relay link right after `bind`.
    static let relayLinkWait: Duration = .seconds(5)

    /// Dials `address.id` through the relays: its hinted relay first, then the home relay, then the others; a
    /// relay that answers "not here" moves on to the next (docs/relay.md §4.2).
    private func connectThroughRelays(to address: EndpointAddress, alpns: [[UInt8]]) async throws(ConnectionError) -> Connection {
        guard relayClient != nil else { throw .noRoute(address.id) }
        await waitForRelayLink(timeout: Self.relayLinkWait)
        let hint = address.relay?.id
        let candidates = await core.driver.compute { $0.relayCandidates(hint: hint) }
        guard !candidates.isEmpty else { throw .noRoute(address.id) }
        var lastError = ConnectionError.noRoute(address.id)
        for relay in candidates {
            let peer = address.id
            guard let remote = await core.driver.compute({ $0.relayedAddress(to: peer, through: relay) }) else { continue }
            switch await dial(remote, peer: peer, alpns: alpns) {
            case .success(let connection):
                return connection
            case .failure(let error):
                guard case .peerUnreachable = error else { throw error }
                lastError = error
            }
        }
        throw lastError
    }

    /// Waits (bounded) until a relay link is up; returns at once when one already is.
    private func waitForRelayLink(timeout: Duration) async {
        let driver = core.driver
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let token = WaiterToken()
                await driver.performCancellable { driver, resumer in
                    driver.waitForRelayLink(token: token, resumer: resumer)
                } onCancel: { driver in
                    driver.cancelWaitForRelayLink(token: token)
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Waits until at least one relay link is up (the endpoint can be reached by id alone), at most `timeout`;
    /// returns whether one is. Returns false at once when no relays are configured.
    public func waitUntilRelayed(timeout: Duration = .seconds(10)) async -> Bool {
        guard relayClient != nil else { return false }
        await waitForRelayLink(timeout: timeout)
        return await core.driver.compute { $0.relayState.links.values.contains(where: \.isReady) }
    }

    /// The state of every configured relay link: transport, readiness, home, RTT, counters, observed address.
    public func relayStatus() async -> [RelayStatus] {
        let relays = self.relays
        return await core.driver.compute { $0.relayStatuses(configured: relays) }
    }

    /// The next incoming connection whose handshake completed, or nil once the endpoint is closed.
    public func accept() async throws(ConnectionError) -> Connection? {
        let token = WaiterToken()
        let result = await core.driver.performCancellable { driver, resumer in
            driver.acceptIncoming(token: token, resumer: resumer)
        } onCancel: { driver in
            driver.cancelAcceptIncoming(token: token)
        }
        return try result.get()
    }

    /// Incoming connections as an async sequence; it ends when the endpoint closes.
    public var incomingConnections: IncomingConnections {
        IncomingConnections(endpoint: self)
    }

    /// Closes gracefully: CONNECTION_CLOSE (code 0) to every peer, then waits until the transport has finished
    /// with every connection (RFC 9000 §10.2) or `closeTimeout` passes, then closes the socket.
    ///
    /// The first call runs the shutdown hooks first (concurrently, bounded by their deadline).
    public func close() async {
        let runsShutdownHooks = isShutdownStarted.withLock { started in
            defer { started = true }
            return !started
        }
        relayClient?.stop()
        if runsShutdownHooks, !lifecycle.hooks.shutdownHooks.isEmpty {
            _ = await lifecycle.runShutdown()
        }
        await core.driver.perform { driver, resumer in driver.close(resumer: resumer) }
    }

    /// How many connections the transport tracks (including closing ones).
    public var connectionCount: Int {
        get async { await core.driver.compute { $0.transport.connectionCount } }
    }

    /// Turns candidate host names into transport addresses this socket can reach.
    private func resolve(_ address: EndpointAddress) -> [NetworkAddress] {
        let socketIsIPv6 = localAddress.host.contains(":")
        return address.directAddresses.compactMap { Self.resolve($0, socketIsIPv6: socketIsIPv6) }
    }

    /// One host and port as a transport address this socket can reach, or nil.
    static func resolve(_ candidate: HostPort, socketIsIPv6: Bool) -> NetworkAddress? {
        var resolved: NetworkAddress?
        if let ip = candidate.ipAddress {
            resolved = NetworkAddress(ipBytes: ip, port: candidate.port)
        } else if let socketAddress = try? SocketAddress.makeAddressResolvingHost(candidate.host, port: Int(candidate.port)) {
            resolved = SocketAddressCache.convert(socketAddress)
        }
        guard let resolved, socketIsIPv6 || resolved.isIPv4 else { return nil }
        return resolved
    }
}

/// The incoming connections of an endpoint, as an async sequence that ends when the endpoint closes.
public struct IncomingConnections: AsyncSequence, Sendable {
    /// Each element is a connection whose handshake completed.
    public typealias Element = Connection

    let endpoint: Endpoint

    /// Starts iterating; every iterator pulls from the same endpoint-wide queue.
    public func makeAsyncIterator() -> Iterator {
        Iterator(endpoint: endpoint)
    }

    /// Yields each accepted connection; nil at endpoint close or when the waiting task is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        let endpoint: Endpoint

        /// The next accepted connection, or nil once the endpoint has closed.
        public mutating func next() async -> Connection? {
            (try? await endpoint.accept()) ?? nil
        }
    }
}

/// Why an endpoint could not be started.
public enum EndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bind host is not an IP literal.
    case invalidBindAddress(host: String, port: Int)
    /// The socket could not be bound (`errno` is 0 when the failure was not a system call error).
    case bindFailed(host: String, port: Int, errno: Int32)
    /// OpenSSL rejected the TLS configuration (for example an empty cipher suite list or a bad ALPN).
    case tlsSetupFailed(HandshakeError)
    /// A start hook threw, so the endpoint was not started (`LifecycleHooks.onStart`).
    case startHookFailed(StartHookError)

    /// A one-line explanation for logs and command-line tools.
    public var description: String {
        switch self {
        case .invalidBindAddress(let host, let port): "invalid bind address \(host):\(port)"
        case .bindFailed(let host, let port, let errno): "cannot bind \(host):\(port) (errno \(errno))"
        case .tlsSetupFailed(let error): "TLS setup failed: \(error.reason)"
        case .startHookFailed(let error): "\(error)"
        }
    }
}

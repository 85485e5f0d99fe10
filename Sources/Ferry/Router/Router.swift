import Logging

/// Dispatches incoming connections to a `ProtocolHandler` per ALPN, and shuts everything down in order.
///
/// The ALPNs the router knows are exactly the ones its endpoint offers, so a client asking for anything else
/// fails in TLS with `no_application_protocol` (RFC 9001 §8.1) before any handler or connection exists.
/// Handlers can be added and removed while the router runs (`addHandler`, `removeHandler`, in
/// `Router+Handlers.swift`): the endpoint's ALPN list and the dispatch table change together.
/// Shutdown order: stop accepting, shut the handlers down concurrently, close the endpoint (which closes every
/// connection), then cancel handler tasks still running and wait for them.
public final class Router: Sendable {
    /// The endpoint the router accepts on; it can also dial (`endpoint.connect`).
    public let endpoint: Endpoint

    /// The handlers by ALPN, as they are now.
    public var handlers: [String: any ProtocolHandler] {
        state.withLock { $0.handlers }
    }

    private let logger: Logger
    struct State {
        /// The dispatch table; changed only together with the endpoint's ALPN list.
        var handlers: [String: any ProtocolHandler]
        var serveTask: Task<Void, Never>?
        var acceptTask: Task<Connection?, Never>?
        var isStopping = false
        var shutdownWaiters: [CheckedContinuation<Bool, Never>] = []
        var isShutDown = false
    }
    let state: HookLock<State>

    /// Binds an endpoint offering exactly `handlers`' ALPNs and starts routing its connections.
    ///
    /// - Parameters:
    ///   - host: the local IP to bind, as for `Endpoint.bind`.
    ///   - port: the UDP port; 0 picks a free one.
    ///   - identity: the Ed25519 key pair whose public key is the endpoint's id.
    ///   - handlers: ALPN → handler; the endpoint offers these ALPNs and no others.
    ///   - configuration: transport limits and runtime settings, as for `Endpoint.bind`.
    ///   - hooks: policy hooks; they decide before a connection reaches its handler.
    ///   - lifecycle: start hooks run before the socket is bound; shutdown hooks run when `shutdown()` closes the
    ///     endpoint.
    public static func bind(
        host: String = "0.0.0.0",
        port: Int = 0,
        identity: EndpointIdentity,
        handlers: [String: any ProtocolHandler],
        configuration: EndpointConfiguration = EndpointConfiguration(),
        hooks: HookChain = HookChain(),
        lifecycle: LifecycleHooks = LifecycleHooks()
    ) async throws(EndpointError) -> Router {
        // Accepting even with no handlers yet, so `addHandler` can open the first protocol later.
        let endpoint = try await Endpoint.bind(
            host: host,
            port: port,
            identity: identity,
            alpns: handlers.keys.sorted(),
            acceptsIncoming: true,
            configuration: configuration,
            hooks: hooks,
            lifecycle: lifecycle
        )
        return Router(endpoint: endpoint, handlers: handlers, logger: configuration.logger)
    }

    /// Starts routing `endpoint`'s incoming connections to `handlers`.
    ///
    /// The endpoint should offer exactly the handlers' ALPNs (`Router.bind` does this); a connection whose ALPN
    /// has no handler is closed with application error code 0x1 ("no handler").
    public init(endpoint: Endpoint, handlers: [String: any ProtocolHandler], logger: Logger = Logger(label: "ferry.router")) {
        self.endpoint = endpoint
        self.logger = logger
        self.state = HookLock(State(handlers: handlers))
        // The serving task holds what it needs, not the router, so dropping the router (deinit) can stop it.
        let state = self.state
        let serveTask = Task { await Router.serve(endpoint: endpoint, state: state, logger: logger) }
        state.withLock { $0.serveTask = serveTask }
    }

    /// Dropping a router without `shutdown()` stops accepting and ends the handler tasks; the endpoint closes
    /// once nothing else uses it.
    deinit {
        let (acceptTask, serveTask) = state.withLock { state in
            state.isStopping = true
            return (state.acceptTask, state.serveTask)
        }
        acceptTask?.cancel()
        serveTask?.cancel()
    }

    /// Whether `shutdown()` has completed.
    public var isShutDown: Bool {
        state.withLock { $0.isShutDown }
    }

    private static func serve(endpoint: Endpoint, state: HookLock<State>, logger: Logger) async {
        await withDiscardingTaskGroup { group in
            while let connection = await nextConnection(endpoint: endpoint, state: state) {
                // Looked up per connection, so a handler added or removed at runtime applies to the next one. A
                // handshake that was in flight when its ALPN was removed ends here.
                guard let handler = state.withLock({ $0.handlers[connection.alpn] }) else {
                    logger.debug("no handler for ALPN", metadata: ["alpn": "\(connection.alpn)"])
                    connection.close(code: 1, reason: "no handler")
                    continue
                }
                group.addTask { await handler.accept(connection) }
            }
        }
    }

    /// The next incoming connection, or nil once the router is stopping or the endpoint closed.
    ///
    /// The accept runs in a task of its own so `shutdown()` can stop accepting without cancelling the
    /// connection handlers running in the same group.
    private static func nextConnection(endpoint: Endpoint, state: HookLock<State>) async -> Connection? {
        let task: Task<Connection?, Never>? = state.withLock { state in
            guard !state.isStopping else { return nil }
            let task = Task { (try? await endpoint.accept()) ?? nil }
            state.acceptTask = task
            return task
        }
        guard let task else { return nil }
        let connection = await task.value
        let isStopping = state.withLock { state in
            state.acceptTask = nil
            return state.isStopping
        }
        if let connection, isStopping {
            connection.close(code: 0, reason: "shutting down")
            return nil
        }
        return connection
    }

    /// Stops the router: stop accepting, shut the handlers down concurrently, close the endpoint, then end the
    /// handler tasks. Safe to call more than once; later calls wait for the first to finish.
    public func shutdown() async {
        let first: Bool = await withCheckedContinuation { continuation in
            let isFirst = state.withLock { state in
                if state.isShutDown {
                    return Optional<Bool>.none
                }
                if state.isStopping {
                    state.shutdownWaiters.append(continuation)
                    return false
                }
                state.isStopping = true
                return true
            }
            switch isFirst {
            case .none: continuation.resume(returning: false)
            case .some(true): continuation.resume(returning: true)
            case .some(false): break
            }
        }
        guard first else { return }
        let (acceptTask, serveTask, handlers) = state.withLock { ($0.acceptTask, $0.serveTask, $0.handlers) }
        acceptTask?.cancel()
        await withDiscardingTaskGroup { group in
            for handler in handlers.values {
                group.addTask { await handler.shutdown() }
            }
        }
        await endpoint.close()
        serveTask?.cancel()
        await serveTask?.value
        let waiters = state.withLock { state in
            state.isShutDown = true
            state.serveTask = nil
            defer { state.shutdownWaiters.removeAll() }
            return state.shutdownWaiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }
}

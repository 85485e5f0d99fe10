extension Router {
    /// Starts serving `alpn` with `handler` while the router runs: from the next handshake on, clients offering
    /// `alpn` are accepted and routed to `handler`.
    ///
    /// The endpoint's accepted ALPNs (what TLS negotiates, RFC 7301) and the dispatch table change under one
    /// lock, so no connection can negotiate `alpn` and then find no handler. A daemon uses this to offer a new
    /// service on reload without rebinding its socket, which would drop every established connection.
    ///
    /// Throws `.handlerExists` when `alpn` already has a handler (remove it first, or keep it: handlers that
    /// read their settings per connection need no replacing), `.invalidALPN` for an id RFC 7301 §3.1 forbids
    /// (or a dial-only endpoint from `Router(endpoint:handlers:)`), and `.shutDown` once `shutdown()` began.
    public func addHandler(_ handler: any ProtocolHandler, for alpn: String) throws(RouterError) {
        let failure: RouterError? = state.withLock { state in
            if state.isStopping { return .shutDown }
            if state.handlers[alpn] != nil { return .handlerExists(alpn: alpn) }
            do throws(ALPNError) {
                try endpoint.addALPN(alpn)
            } catch {
                return .invalidALPN(alpn: alpn, error)
            }
            state.handlers[alpn] = handler
            return nil
        }
        if let failure { throw failure }
    }

    /// Stops routing new connections for `alpn` and returns its handler (nil when it had none).
    ///
    /// New clients offering only `alpn` are refused in TLS with no_application_protocol, CONNECTION_CLOSE
    /// 0x0178 (RFC 9001 §8.1), before any handler or hook sees them. Connections the handler already took are
    /// left alone: they belong to the handler's tasks, which run until the handler returns or the router shuts
    /// down, so removing a service never drops a user's session by itself (close them yourself if your policy
    /// says so). A handshake that was already in flight may still complete with `alpn`; it is closed with
    /// application error 0x1 ("no handler"). The router no longer calls the returned handler's `shutdown()`:
    /// the caller owns it from here on.
    @discardableResult
    public func removeHandler(for alpn: String) -> (any ProtocolHandler)? {
        state.withLock { state in
            guard let handler = state.handlers.removeValue(forKey: alpn) else { return nil }
            endpoint.removeALPN(alpn)
            return handler
        }
    }
}

/// Why `Router.addHandler` could not add a handler.
public enum RouterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The ALPN already has a handler.
    case handlerExists(alpn: String)
    /// The endpoint cannot accept this ALPN.
    case invalidALPN(alpn: String, ALPNError)
    /// The router is shutting down or has shut down.
    case shutDown

    /// A one-line explanation for logs and command-line tools.
    public var description: String {
        switch self {
        case .handlerExists(let alpn): "ALPN \(alpn) already has a handler"
        case .invalidALPN(let alpn, let error): "cannot accept ALPN \(alpn): \(error)"
        case .shutDown: "the router is shutting down"
        }
    }
}

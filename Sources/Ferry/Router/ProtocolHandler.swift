/// Serves one application protocol (one ALPN, RFC 7301) for a `Router`.
///
/// The router hands every accepted connection whose negotiated ALPN matches to `accept`, each in a task of its
/// own, so a handler may serve a connection for as long as it likes. `shutdown` is called once when the router
/// stops, concurrently with the other handlers', before the endpoint closes: flush state, say goodbye.
public protocol ProtocolHandler: Sendable {
    /// Serves one connection; returning ends the router's interest in it (the connection closes once the
    /// handler has released it).
    func accept(_ connection: Connection) async

    /// Stops the handler; called once during `Router.shutdown()`.
    func shutdown() async
}

extension ProtocolHandler {
    /// Nothing to stop by default.
    public func shutdown() async {}
}

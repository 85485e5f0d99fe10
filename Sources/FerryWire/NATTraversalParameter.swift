/// The nat_traversal transport parameter (0x3d7e9f0bca12fea6, draft-seemann-quic-nat-traversal-02 §4.5).
///
/// Its value depends on who sends it: a client sends it empty, a server sends its concurrency limit, a varint
/// above zero that bounds how many PUNCH_ME_NOW frames the client may send per round (§4.4). An endpoint that
/// does not know the parameter ignores it (RFC 9000 §7.4.2), so advertising it does not affect interop.
public enum NATTraversalParameter: Equatable, Sendable {
    /// Sent by a client: an empty value.
    case client
    /// Sent by a server: at most `concurrencyLimit` (> 0) PUNCH_ME_NOW frames per round.
    case server(concurrencyLimit: UInt64)

    /// The concurrency limit, for a server's parameter.
    public var concurrencyLimit: UInt64? {
        if case .server(let limit) = self { return limit }
        return nil
    }
}

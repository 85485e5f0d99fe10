/// The client's store of NEW_TOKEN tokens (RFC 9000 §8.1.3), keyed by server address.
///
/// A token received on one connection is offered in the first Initial of the next connection to the same
/// address, so the server can skip the Retry round trip and the amplification limit. The store is in memory;
/// `addressToken(for:)` and `storeAddressToken(_:for:)` let the runtime persist tokens across endpoints.
extension TransportEndpoint {
    /// Tokens longer than this are ignored: a server has no reason to send more (RFC 9000 §19.7 sets no limit).
    static let maxStoredTokenLength = 512
    /// At most this many servers' tokens are kept; the store is cleared when full (simple and bounded).
    static let maxStoredTokens = 1024

    /// The NEW_TOKEN token stored for `server`, if any; the next `connect(to: server, …)` sends it.
    public func addressToken(for server: NetworkAddress) -> [UInt8]? {
        addressTokens[server]
    }

    /// Stores a token for the next connection to `server` (for instance one saved by a previous process);
    /// nil removes it. Tokens are single-use in spirit (RFC 9000 §8.1.3): a new one replaces the old.
    public func storeAddressToken(_ token: [UInt8]?, for server: NetworkAddress) {
        guard let token, !token.isEmpty, token.count <= Self.maxStoredTokenLength else {
            addressTokens[server] = nil
            return
        }
        if addressTokens[server] == nil && addressTokens.count >= Self.maxStoredTokens {
            addressTokens.removeAll()
        }
        addressTokens[server] = token
    }

    /// Moves a token the connection received in NEW_TOKEN into the store.
    func storeReceivedToken(of connection: TransportConnection) {
        guard let token = connection.addressValidation.receivedNewToken else { return }
        connection.addressValidation.receivedNewToken = nil
        storeAddressToken(token, for: connection.addressValidation.tokenServerAddress ?? connection.remoteAddress)
    }
}

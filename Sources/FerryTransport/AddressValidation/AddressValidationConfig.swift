/// How a server validates client addresses (RFC 9000 §8.1): Retry, NEW_TOKEN and the token key.
///
/// Kept apart from `TransportConfig` because it is endpoint policy, not per-connection limits: one static key
/// seals every token the endpoint issues, and the Retry decision is made before any connection exists.
public struct AddressValidationConfig: Sendable {
    /// Answer every Initial without a valid token with a Retry (RFC 9000 §8.1.2), so no handshake state is spent
    /// on unproven addresses. `TransportConfig.requiresAddressValidation` switches this on as well.
    public var requiresRetry: Bool
    /// The static key sealing Retry and NEW_TOKEN tokens (RFC 9000 §8.1.4). Share it between restarts (or
    /// instances behind one address) for tokens to survive them; random per endpoint by default.
    public var tokenKey: [UInt8]
    /// How long a Retry token stays valid; short, since the client uses it at once (RFC 9000 §8.1.4).
    public var retryTokenLifetime: Duration
    /// How long a NEW_TOKEN token stays valid (RFC 9000 §8.1.3).
    public var newTokenLifetime: Duration
    /// Whether the server gives each client a NEW_TOKEN token after the handshake (RFC 9000 §8.1.3).
    public var issuesNewTokens: Bool
    /// At most this many stateless resets are sent per second (RFC 9000 §10.3: limit them so they cannot be used
    /// for amplification or loops); 0 disables sending them.
    public var statelessResetsPerSecond: Int
    /// Answer Initials without a valid token with a Retry while at least this many incoming handshakes are in
    /// progress; nil never does so by load. A flood of Initials (RFC 9000 §21.2, spoofed sources included) then
    /// costs one stateless Retry each instead of a connection with TLS state, while clients that can receive the
    /// Retry come back validated and still connect (§8.1.2), the way msquic switches to Retry above its handshake
    /// memory limit. `requiresRetry` answers every such Initial with a Retry whatever the load.
    public var retryAboveHandshakes: Int?

    /// Creates a policy; a random token key is generated when none is given.
    public init(
        requiresRetry: Bool = false,
        tokenKey: [UInt8]? = nil,
        retryTokenLifetime: Duration = .seconds(10),
        newTokenLifetime: Duration = .seconds(24 * 3600),
        issuesNewTokens: Bool = true,
        statelessResetsPerSecond: Int = 100,
        retryAboveHandshakes: Int? = 256
    ) {
        self.requiresRetry = requiresRetry
        if let tokenKey {
            self.tokenKey = tokenKey
        } else {
            var generator = SystemRandomNumberGenerator()
            self.tokenKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        self.retryTokenLifetime = retryTokenLifetime
        self.newTokenLifetime = newTokenLifetime
        self.issuesNewTokens = issuesNewTokens
        self.statelessResetsPerSecond = max(0, statelessResetsPerSecond)
        self.retryAboveHandshakes = retryAboveHandshakes.map { max(0, $0) }
    }
}

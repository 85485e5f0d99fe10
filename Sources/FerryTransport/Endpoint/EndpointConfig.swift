/// How a `TransportEndpoint` behaves: transport limits, crypto, and connection-ID policy.
///
/// One value configures every connection of the endpoint so the runtime can build it once from user settings.
public struct EndpointConfig: Sendable {
    /// Limits and behaviour for each connection.
    public var transport: TransportConfig
    /// Creates TLS sessions and Initial keys (RFC 9001).
    public var crypto: any CryptoProvider
    /// Length of the connection IDs this endpoint issues; short-header packets are routed by it (RFC 9000 §5.1).
    /// Between 4 and 20.
    public var connectionIDLength: Int
    /// Whether the endpoint accepts incoming connections (acts as a server).
    public var acceptsIncoming: Bool
    /// Seeds connection-ID and packet-number randomness, making tests deterministic; nil uses the system RNG.
    public var randomSeed: UInt64?
    /// Key for deriving stateless reset tokens from connection IDs (RFC 9000 §10.3.2); 32 random bytes.
    public var statelessResetKey: [UInt8]
    /// Retry, NEW_TOKEN and stateless-reset policy (RFC 9000 §8.1, §10.3).
    public var addressValidation: AddressValidationConfig

    /// Whether every client address must be validated before a handshake starts (RFC 9000 §8.1.2): set in
    /// `addressValidation` or in `transport`.
    public var requiresAddressValidation: Bool {
        addressValidation.requiresRetry || transport.requiresAddressValidation
    }

    /// Creates an endpoint configuration; a random stateless-reset key is generated when none is given.
    public init(
        transport: TransportConfig = TransportConfig(),
        crypto: any CryptoProvider,
        connectionIDLength: Int = 8,
        acceptsIncoming: Bool = true,
        randomSeed: UInt64? = nil,
        statelessResetKey: [UInt8]? = nil,
        addressValidation: AddressValidationConfig = AddressValidationConfig()
    ) {
        self.addressValidation = addressValidation
        self.transport = transport
        self.crypto = crypto
        self.connectionIDLength = min(max(connectionIDLength, 4), 20)
        self.acceptsIncoming = acceptsIncoming
        self.randomSeed = randomSeed
        if let statelessResetKey {
            self.statelessResetKey = statelessResetKey
        } else {
            var generator = SystemRandomNumberGenerator()
            self.statelessResetKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
    }
}

/// Endpoint secrets derived from the identity, so they survive restarts.
///
/// A stateless reset (RFC 9000 §10.3) works only if the endpoint that lost a connection's state can still compute
/// the reset token it gave the peer; with a key drawn afresh at each start, a restarted daemon's resets match no
/// token its peers hold, and the peers wait for their idle timeout instead. Address tokens (Retry and NEW_TOKEN,
/// RFC 9000 §8.1.3–8.1.4) likewise stay valid across a restart only if their key does. Both keys come from the
/// identity's seed through HKDF-SHA256 (RFC 5869), with distinct labels, so neither reveals the seed or the other
/// key (RFC 9000 §10.3.2: the static key must not be usable to recover anything else).
extension EndpointIdentity {
    /// The keys an endpoint derives from its identity.
    public struct DerivedKeys: Sendable {
        /// Keys stateless reset tokens (RFC 9000 §10.3.2).
        public var statelessReset: [UInt8]
        /// Seals Retry and NEW_TOKEN tokens (RFC 9000 §8.1.4).
        public var addressToken: [UInt8]
    }

    /// The salt of the extraction step: fixed, naming the purpose and version of the derivation.
    static let derivationSalt = Array("ferry endpoint keys v1".utf8)

    /// Derives this identity's stateless-reset and address-token keys (32 bytes each).
    public func derivedKeys() throws(PacketProtectionError) -> DerivedKeys {
        let pseudorandomKey = try HKDF.extract(salt: Self.derivationSalt, inputKeyMaterial: secretKeySeed, hash: .sha256)
        return DerivedKeys(
            statelessReset: try HKDF.expand(
                secret: pseudorandomKey, info: Array("stateless reset".utf8), length: 32, hash: .sha256),
            addressToken: try HKDF.expand(
                secret: pseudorandomKey, info: Array("address token".utf8), length: 32, hash: .sha256)
        )
    }
}

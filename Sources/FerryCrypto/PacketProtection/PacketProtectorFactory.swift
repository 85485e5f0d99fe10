/// The QUIC v1 Initial salt (RFC 9001 §5.2).
let quicVersion1InitialSalt: [UInt8] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
    0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
]

/// Creates packet protection for one direction from a TLS traffic secret (RFC 9001 §5.1).
///
/// The AEAD key, IV and header-protection key come from HKDF-Expand-Label with "quic key", "quic iv" and
/// "quic hp". The TLS driver calls this for each secret OpenSSL hands it; the result prepares its OpenSSL
/// contexts once, so the per-packet path allocates nothing.
public func makePacketProtector(
    cipherSuite: CipherSuite,
    secret: [UInt8]
) throws(PacketProtectionError) -> any PacketProtector {
    guard secret.count == cipherSuite.hashAlgorithm.digestLength else {
        throw .cryptoFailure("traffic secret must be \(cipherSuite.hashAlgorithm.digestLength) bytes")
    }
    return try OpenSSLPacketProtector(cipherSuite: cipherSuite, secret: secret)
}

/// Derives Initial packet protection from the client's first Destination Connection ID (RFC 9001 §5.2).
///
/// Initial packets use AES-128-GCM with secrets from the public v1 salt, so both ends can derive them before
/// TLS has run. `side` is which end we are: a client seals with the "client in" secret and opens with
/// "server in"; a server does the reverse.
public func makeInitialKeys(
    destinationConnectionID: [UInt8],
    side: Side
) throws(PacketProtectionError) -> PacketKeyPair {
    let secrets = try InitialSecrets(destinationConnectionID: destinationConnectionID)
    let client = try OpenSSLPacketProtector(cipherSuite: .aes128GCMSHA256, secret: secrets.client)
    let server = try OpenSSLPacketProtector(cipherSuite: .aes128GCMSHA256, secret: secrets.server)
    switch side {
    case .client: return PacketKeyPair(local: client, remote: server)
    case .server: return PacketKeyPair(local: server, remote: client)
    }
}

/// The client and server Initial secrets for a Destination Connection ID (RFC 9001 §5.2).
///
/// Exposed so tests can check them against RFC 9001 Appendix A.1 and so diagnostics can log key material.
public struct InitialSecrets: Sendable, Equatable {
    /// HKDF-Extract(initial_salt, client_dst_connection_id).
    public var initialSecret: [UInt8]
    /// HKDF-Expand-Label(initial_secret, "client in", "", 32).
    public var client: [UInt8]
    /// HKDF-Expand-Label(initial_secret, "server in", "", 32).
    public var server: [UInt8]

    /// Derives the secrets with the QUIC v1 salt.
    public init(destinationConnectionID: [UInt8]) throws(PacketProtectionError) {
        initialSecret = try HKDF.extract(
            salt: quicVersion1InitialSalt, inputKeyMaterial: destinationConnectionID, hash: .sha256)
        client = try HKDF.expandLabel(secret: initialSecret, label: "client in", length: 32, hash: .sha256)
        server = try HKDF.expandLabel(secret: initialSecret, label: "server in", length: 32, hash: .sha256)
    }
}

import CFerryShim
import CSodium

/// Takes OpenSSL 3.0's cheap path for peer Ed25519 keys: the built-in decoder, and libsodium's verification.
///
/// Every handshake parses the peer's certificate (RFC 8446 §4.4.2). OpenSSL 3.0 decodes the certificate's key
/// through the provider decoder lookup (`OSSL_DECODER_CTX_new_for_pkey`), which walks every key manager and decoder
/// of the default provider: about 100 µs per certificate, 15 % of a Ferry server's handshake CPU. OpenSSL skips the
/// lookup when an ENGINE claims the key type, so the C shim registers one for Ed25519 that carries OpenSSL's own
/// Ed25519 method; decoding then takes ~7 µs (`ferry_install_ed25519_engine`).
///
/// Keys decoded that way are verified through the engine's method, whose DigestVerify is libsodium's
/// `crypto_sign_verify_detached`: the same check as OpenSSL's (RFC 8032 §5.1.7 over the complete message, which
/// for a CertificateVerify is the RFC 8446 §4.4.3 content), about 1.5 times as fast, and stricter (it refuses
/// non-canonical encodings and small-order keys, which honest signers never produce). Our own signing key is a
/// provider key and does not go through the engine.
enum Ed25519PeerKeyPath {
    /// Whether the engine is active (false only on an OpenSSL without ENGINE support). Installed on first use.
    static let isActive: Bool = {
        guard sodium_init() >= 0 else { return ferry_install_ed25519_engine(nil) == 1 }
        return ferry_install_ed25519_engine { signature, signatureLength, message, messageLength, publicKey in
            guard let signature, let publicKey, signatureLength == Int(crypto_sign_BYTES) else { return 0 }
            // libsodium takes a non-null message pointer even for an empty message.
            var empty: UInt8 = 0
            let valid = withUnsafePointer(to: &empty) { emptyPointer in
                crypto_sign_verify_detached(
                    signature, message ?? emptyPointer, UInt64(messageLength), publicKey) == 0
            }
            return valid ? 1 : 0
        } == 1
    }()
}

import COpenSSL

/// The hash function behind a TLS 1.3 cipher suite's HKDF (RFC 8446 §7.1, RFC 9001 §5.1).
///
/// QUIC derives packet protection keys with the suite's hash, so the key schedule needs to know it.
public enum HashAlgorithm: Sendable, Equatable {
    /// SHA-256: TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 and the Initial keys (RFC 9001 §5.2).
    case sha256
    /// SHA-384: TLS_AES_256_GCM_SHA384.
    case sha384

    /// The digest (and HKDF-Extract output) length in bytes.
    public var digestLength: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        }
    }

    /// OpenSSL's digest for this hash (a static legacy table entry, never freed).
    var evpDigest: OpaquePointer? {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        }
    }
}

extension CipherSuite {
    /// The suite's HKDF hash (RFC 8446 Appendix B.4): SHA-384 for AES-256-GCM, SHA-256 otherwise.
    public var hashAlgorithm: HashAlgorithm {
        switch self {
        case .aes128GCMSHA256, .chacha20Poly1305SHA256: .sha256
        case .aes256GCMSHA384: .sha384
        }
    }

    /// The AEAD key length in bytes, which is also the header-protection key length (RFC 9001 §5.1).
    public var keyLength: Int {
        switch self {
        case .aes128GCMSHA256: 16
        case .aes256GCMSHA384, .chacha20Poly1305SHA256: 32
        }
    }

    /// The AEAD IV (nonce) length in bytes: 12 for every QUIC v1 suite (RFC 9001 §5.3, RFC 5116).
    public var ivLength: Int { 12 }

    /// The AEAD tag length in bytes: 16 for every QUIC v1 suite (RFC 9001 §5.3).
    public var tagLength: Int { 16 }
}

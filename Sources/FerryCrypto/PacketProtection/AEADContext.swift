import COpenSSL

/// OpenSSL ciphers fetched once per process (OpenSSL 3 "explicit fetch").
///
/// Passing a fetched `EVP_CIPHER` to `EVP_*Init_ex2` avoids the implicit provider lookup (a lock and a hash-table
/// search) that the legacy `EVP_aes_128_gcm()` style pointers cost on every key setup.
enum FetchedCipher {
    // nonisolated(unsafe): fetched EVP_CIPHER objects are immutable and reference-counted atomically, so OpenSSL
    // documents them as safe to share between threads; they are never freed.
    nonisolated(unsafe) static let aes128GCM = EVP_CIPHER_fetch(nil, "AES-128-GCM", nil)
    nonisolated(unsafe) static let aes256GCM = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)
    nonisolated(unsafe) static let chacha20Poly1305 = EVP_CIPHER_fetch(nil, "ChaCha20-Poly1305", nil)
    nonisolated(unsafe) static let aes128ECB = EVP_CIPHER_fetch(nil, "AES-128-ECB", nil)
    nonisolated(unsafe) static let aes256ECB = EVP_CIPHER_fetch(nil, "AES-256-ECB", nil)
    nonisolated(unsafe) static let chacha20 = EVP_CIPHER_fetch(nil, "ChaCha20", nil)

    /// The AEAD cipher for a suite (RFC 9001 §5.3).
    static func aead(for cipherSuite: CipherSuite) -> OpaquePointer? {
        switch cipherSuite {
        case .aes128GCMSHA256: aes128GCM
        case .aes256GCMSHA384: aes256GCM
        case .chacha20Poly1305SHA256: chacha20Poly1305
        }
    }
}

/// One AEAD key with two reusable OpenSSL contexts (one sealing, one opening), keyed once.
///
/// Per message only the nonce is set (`EVP_*Init_ex2` with a nil cipher and key), so the AES key schedule is
/// computed once per key rather than once per packet, and nothing is allocated per message. Not thread-safe: the
/// owner uses it from one thread at a time.
final class AEADContext {
    /// The tag length of every QUIC v1 and TLS 1.3 AEAD we support.
    static let tagLength = 16
    /// The nonce length of every supported AEAD.
    static let nonceLength = 12

    private let sealContext: OpaquePointer
    private let openContext: OpaquePointer

    init(cipherSuite: CipherSuite, key: [UInt8]) throws(PacketProtectionError) {
        guard key.count == cipherSuite.keyLength else {
            throw .cryptoFailure("AEAD key must be \(cipherSuite.keyLength) bytes, got \(key.count)")
        }
        guard let cipher = FetchedCipher.aead(for: cipherSuite) else {
            throw PacketProtectionFailure.failure("EVP_CIPHER_fetch")
        }
        guard let sealContext = EVP_CIPHER_CTX_new() else { throw PacketProtectionFailure.failure("EVP_CIPHER_CTX_new") }
        guard let openContext = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(sealContext)
            throw PacketProtectionFailure.failure("EVP_CIPHER_CTX_new")
        }
        self.sealContext = sealContext
        self.openContext = openContext
        let keyed = key.withUnsafeBufferPointer { keyBytes in
            EVP_EncryptInit_ex2(sealContext, cipher, keyBytes.baseAddress, nil, nil) == 1
                && EVP_DecryptInit_ex2(openContext, cipher, keyBytes.baseAddress, nil, nil) == 1
        }
        guard keyed else { throw PacketProtectionFailure.failure("EVP_CipherInit_ex2") }
    }

    deinit {
        EVP_CIPHER_CTX_free(sealContext)
        EVP_CIPHER_CTX_free(openContext)
    }

    /// Encrypts `length` bytes at `data` in place and writes the 16-byte tag at `tag`.
    @inline(__always)
    func seal(
        nonce: UnsafePointer<UInt8>,
        aad: UnsafePointer<UInt8>?,
        aadLength: Int,
        data: UnsafeMutablePointer<UInt8>?,
        length: Int,
        tag: UnsafeMutablePointer<UInt8>
    ) throws(PacketProtectionError) {
        try transform(sealContext, "AEAD seal", nonce: nonce, aad: aad, aadLength: aadLength, data: data, length: length)
        var outputLength: Int32 = 0
        // GCM and ChaCha20-Poly1305 are stream modes: Final writes no bytes, it only computes the tag.
        guard EVP_EncryptFinal_ex(sealContext, tag, &outputLength) == 1,
            EVP_CIPHER_CTX_ctrl(sealContext, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagLength), tag) == 1
        else { throw PacketProtectionFailure.failure("AEAD seal: final") }
    }

    /// Decrypts `length` bytes at `data` in place and verifies the 16-byte tag at `tag`.
    ///
    /// Throws `.authenticationFailed` when the tag does not verify; `data` then holds unauthenticated garbage that
    /// the caller must discard.
    @inline(__always)
    func open(
        nonce: UnsafePointer<UInt8>,
        aad: UnsafePointer<UInt8>?,
        aadLength: Int,
        data: UnsafeMutablePointer<UInt8>?,
        length: Int,
        tag: UnsafeMutablePointer<UInt8>
    ) throws(PacketProtectionError) {
        try transform(openContext, "AEAD open", nonce: nonce, aad: aad, aadLength: aadLength, data: data, length: length)
        guard EVP_CIPHER_CTX_ctrl(openContext, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagLength), tag) == 1 else {
            throw PacketProtectionFailure.failure("AEAD open: set tag")
        }
        var outputLength: Int32 = 0
        guard EVP_DecryptFinal_ex(openContext, tag, &outputLength) == 1 else {
            // A forged or corrupted packet, not a library fault. Drop anything OpenSSL queued so the
            // thread-local error queue does not carry stale entries into unrelated calls.
            ERR_clear_error()
            throw .authenticationFailed
        }
    }

    /// What sealing and opening share: set the per-message nonce, feed the associated data, and transform `data`
    /// in place (RFC 9001 §5.3: the AAD is the unprotected header).
    ///
    /// The `EVP_Cipher*` calls serve both directions: `enc == -1` keeps the direction `context` was keyed with in
    /// `init`, so the same steps encrypt on `sealContext` and decrypt on `openContext`. `operation` names the
    /// caller in errors.
    @inline(__always)
    private func transform(
        _ context: OpaquePointer,
        _ operation: String,
        nonce: UnsafePointer<UInt8>,
        aad: UnsafePointer<UInt8>?,
        aadLength: Int,
        data: UnsafeMutablePointer<UInt8>?,
        length: Int
    ) throws(PacketProtectionError) {
        var outputLength: Int32 = 0
        guard aadLength <= Int(Int32.max), length <= Int(Int32.max),
            EVP_CipherInit_ex2(context, nil, nil, nonce, -1, nil) == 1
        else { throw PacketProtectionFailure.failure(operation + ": set nonce") }
        if aadLength > 0 {
            guard EVP_CipherUpdate(context, nil, &outputLength, aad, Int32(aadLength)) == 1 else {
                throw PacketProtectionFailure.failure(operation + ": aad")
            }
        }
        if length > 0 {
            guard EVP_CipherUpdate(context, data, &outputLength, data, Int32(length)) == 1 else {
                throw PacketProtectionFailure.failure(operation + ": update")
            }
        }
    }
}

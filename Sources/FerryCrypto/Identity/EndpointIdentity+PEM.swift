import COpenSSL
import CSodium

extension EndpointIdentity {
    /// Reads a PKCS#8 PEM private key ("BEGIN PRIVATE KEY"), as written by `ferry keygen` or
    /// `openssl genpkey -algorithm ed25519`.
    ///
    /// Parsing goes through OpenSSL, so every PKCS#8 variant it understands is accepted (including v2 with the
    /// public key, RFC 5958). Other key types are refused with `.wrongKeyType`, encrypted keys with
    /// `.encryptedKey`; nothing ever prompts for a passphrase.
    public init(pem: String) throws(IdentityError) {
        try self.init(pem: pem, path: nil)
    }

    /// Parses PEM text; `path` only labels errors.
    init(pem: String, path: String?) throws(IdentityError) {
        guard pem.contains("-----BEGIN ") else { throw .notPEM(path: path) }
        if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || pem.contains("Proc-Type: 4,ENCRYPTED") {
            throw .encryptedKey(path: path)
        }
        let bytes = Array(pem.utf8)
        let key: OpaquePointer? = bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            // A password callback that refuses keeps OpenSSL from prompting on the terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        ERR_clear_error()
        guard let key else { throw .notPrivateKey(path: path) }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else {
            let name = EVP_PKEY_get0_type_name(key).map { String(cString: $0) } ?? "unknown"
            throw .wrongKeyType(path: path, keyType: name)
        }
        var seed = [UInt8](repeating: 0, count: Self.seedLength)
        var length = seed.count
        guard EVP_PKEY_get_raw_private_key(key, &seed, &length) == 1, length == Self.seedLength else {
            ERR_clear_error()
            throw .cryptoFailure(operation: "EVP_PKEY_get_raw_private_key")
        }
        try self.init(secretKeySeed: seed)
        sodium_memzero(&seed, seed.count)
    }

    /// The seed as PKCS#8 PEM ("BEGIN PRIVATE KEY", RFC 7468 §10), written by OpenSSL's
    /// `PEM_write_bio_PrivateKey`, so byte-identical to what `openssl genpkey -algorithm ed25519` writes for the
    /// same key. Throws only when OpenSSL cannot allocate.
    public func pemEncoded() throws(IdentityError) -> String {
        let key = try makeOpenSSLPrivateKey()
        defer { EVP_PKEY_free(key) }
        guard let bio = BIO_new(BIO_s_mem()) else {
            ERR_clear_error()
            throw .cryptoFailure(operation: "BIO_new")
        }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else {
            ERR_clear_error()
            throw .cryptoFailure(operation: "PEM_write_bio_PrivateKey")
        }
        var pem = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let read = pem.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
        guard read == pem.count else {
            sodium_memzero(&pem, pem.count)
            throw .cryptoFailure(operation: "BIO_read")
        }
        defer { sodium_memzero(&pem, pem.count) }
        return String(decoding: pem, as: UTF8.self)
    }

    /// A new OpenSSL `EVP_PKEY` holding this private key; the caller owns it and must `EVP_PKEY_free` it.
    ///
    /// This is the bridge to the TLS layer (`SSL_CTX_use_PrivateKey`) and certificate signing.
    func makeOpenSSLPrivateKey() throws(IdentityError) -> OpaquePointer {
        let key = secretKeySeed.withUnsafeBufferPointer { seed in
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed.baseAddress, seed.count)
        }
        guard let key else {
            ERR_clear_error()
            throw .cryptoFailure(operation: "EVP_PKEY_new_raw_private_key")
        }
        return key
    }
}

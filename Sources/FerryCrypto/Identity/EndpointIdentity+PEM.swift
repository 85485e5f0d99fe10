import COpenSSL
import CSodium

extension EndpointIdentity {
    /// The DER prefix of an Ed25519 PKCS#8 `PrivateKeyInfo` (RFC 8410 §7, RFC 5958): SEQUENCE, version 0,
    /// AlgorithmIdentifier { id-Ed25519 (1.3.101.112) }, OCTET STRING { OCTET STRING (32 bytes) }.
    /// The 32-byte seed follows it. This is exactly what `openssl genpkey -algorithm ed25519` writes.
    static let pkcs8Prefix: [UInt8] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]

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

    /// The seed as PKCS#8 PEM ("BEGIN PRIVATE KEY", RFC 7468 §10), byte-identical to what
    /// `openssl genpkey -algorithm ed25519` writes for the same key.
    public func pemEncoded() -> String {
        let der = Self.pkcs8Prefix + secretKeySeed
        let base64 = Base64.encode(der)
        var lines = ["-----BEGIN PRIVATE KEY-----"]
        var start = base64.startIndex
        while start < base64.endIndex {
            let end = base64.index(start, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(String(base64[start..<end]))
            start = end
        }
        lines.append("-----END PRIVATE KEY-----")
        return lines.joined(separator: "\n") + "\n"
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

/// Standard base64 (RFC 4648 §4) with padding, for PEM bodies.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 0x3f)])
            out.append(alphabet[Int(triple >> 12 & 0x3f)])
            out.append(remaining > 1 ? alphabet[Int(triple >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(triple & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

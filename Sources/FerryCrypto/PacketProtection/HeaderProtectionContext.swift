import COpenSSL

/// A header-protection key with one reusable OpenSSL context (RFC 9001 §5.4).
///
/// AES suites encrypt the 16-byte sample with AES-ECB and use the first five output bytes (§5.4.3). ChaCha20
/// uses the sample as its 16-byte IV (a little-endian block counter then a 12-byte nonce, exactly OpenSSL's
/// ChaCha20 IV layout) and encrypts five zero bytes (§5.4.4). The key never changes on a key update (§6), so the
/// current and next key phases share one instance. Not thread-safe: one connection uses it at a time.
final class HeaderProtectionContext {
    private let context: OpaquePointer
    private let isChaCha20: Bool
    /// 16 bytes of output followed by 16 zero bytes of ChaCha20 input, allocated once per key.
    private let scratch: UnsafeMutablePointer<UInt8>

    init(cipherSuite: CipherSuite, key: [UInt8]) throws(PacketProtectionError) {
        guard key.count == cipherSuite.keyLength else {
            throw .cryptoFailure("header protection key must be \(cipherSuite.keyLength) bytes")
        }
        let cipher: OpaquePointer?
        switch cipherSuite {
        case .aes128GCMSHA256: cipher = FetchedCipher.aes128ECB
        case .aes256GCMSHA384: cipher = FetchedCipher.aes256ECB
        case .chacha20Poly1305SHA256: cipher = FetchedCipher.chacha20
        }
        guard let cipher else { throw PacketProtectionFailure.failure("EVP_CIPHER_fetch") }
        guard let context = EVP_CIPHER_CTX_new() else { throw PacketProtectionFailure.failure("EVP_CIPHER_CTX_new") }
        self.context = context
        self.isChaCha20 = cipherSuite == .chacha20Poly1305SHA256
        self.scratch = .allocate(capacity: 32)
        scratch.initialize(repeating: 0, count: 32)
        let keyed = key.withUnsafeBufferPointer { keyBytes in
            // ChaCha20 needs an IV at init; the real one (the sample) is set per packet.
            EVP_EncryptInit_ex2(context, cipher, keyBytes.baseAddress, isChaCha20 ? scratch + 16 : nil, nil) == 1
        }
        guard keyed, EVP_CIPHER_CTX_set_padding(context, 0) == 1 else {
            throw PacketProtectionFailure.failure("header protection init")
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(context)
        scratch.deallocate()
    }

    /// The five mask bytes for a 16-byte `sample` (RFC 9001 §5.4.1).
    @inline(__always)
    func mask(sample: UnsafePointer<UInt8>) throws(PacketProtectionError) -> HeaderProtectionMask {
        var outputLength: Int32 = 0
        if isChaCha20 {
            guard EVP_EncryptInit_ex2(context, nil, nil, sample, nil) == 1,
                EVP_EncryptUpdate(context, scratch, &outputLength, scratch + 16, 5) == 1
            else { throw PacketProtectionFailure.failure("ChaCha20 header protection") }
        } else {
            // ECB with padding off keeps no state between whole blocks, so the context needs no re-init.
            guard EVP_EncryptUpdate(context, scratch, &outputLength, sample, 16) == 1, outputLength == 16 else {
                throw PacketProtectionFailure.failure("AES-ECB header protection")
            }
        }
        return HeaderProtectionMask(first: scratch[0], packetNumber: (scratch[1], scratch[2], scratch[3], scratch[4]))
    }
}

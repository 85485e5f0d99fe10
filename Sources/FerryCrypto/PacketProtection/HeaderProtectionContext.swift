import COpenSSL
import CSodium

/// A header-protection key, prepared once (RFC 9001 §5.4).
///
/// AES suites encrypt the 16-byte sample with AES-ECB through one reusable OpenSSL context and use the first five
/// output bytes (§5.4.3). ChaCha20 (§5.4.4) uses libsodium's stateless `crypto_stream_chacha20_ietf_xor_ic`, whose
/// arguments are exactly the sample's split into a little-endian block counter and a 12-byte nonce; re-initialising
/// an OpenSSL ChaCha20 context per packet cost about 180 ns, libsodium needs no per-packet setup. The key never
/// changes on a key update (§6), so the current and next key phases share one instance. Not thread-safe: one
/// connection uses it at a time.
final class HeaderProtectionContext {
    /// The keyed AES-ECB context; nil for ChaCha20.
    private let context: OpaquePointer?
    /// Bytes 0..<16: output block. 16..<32: zero input for ChaCha20. 32..<64: the ChaCha20 key. Allocated once.
    private let scratch: UnsafeMutablePointer<UInt8>

    /// libsodium must be initialised once before use (it picks the fastest ChaCha20 implementation).
    private static let sodiumReady: Bool = sodium_init() >= 0

    init(cipherSuite: CipherSuite, key: [UInt8]) throws(PacketProtectionError) {
        guard key.count == cipherSuite.keyLength else {
            throw .cryptoFailure("header protection key must be \(cipherSuite.keyLength) bytes")
        }
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        scratch.initialize(repeating: 0, count: 64)
        self.scratch = scratch
        let cipher: OpaquePointer?
        switch cipherSuite {
        case .aes128GCMSHA256: cipher = FetchedCipher.aes128ECB
        case .aes256GCMSHA384: cipher = FetchedCipher.aes256ECB
        case .chacha20Poly1305SHA256:
            context = nil
            guard Self.sodiumReady else { throw .cryptoFailure("sodium_init failed") }
            for index in 0..<32 { scratch[32 + index] = key[index] }
            return
        }
        guard let cipher else { throw PacketProtectionFailure.failure("EVP_CIPHER_fetch") }
        guard let context = EVP_CIPHER_CTX_new() else { throw PacketProtectionFailure.failure("EVP_CIPHER_CTX_new") }
        self.context = context
        let keyed = key.withUnsafeBufferPointer { keyBytes in
            EVP_EncryptInit_ex2(context, cipher, keyBytes.baseAddress, nil, nil) == 1
        }
        guard keyed, EVP_CIPHER_CTX_set_padding(context, 0) == 1 else {
            throw PacketProtectionFailure.failure("header protection init")
        }
    }

    deinit {
        EVP_CIPHER_CTX_free(context)
        sodium_memzero(scratch, 64)
        scratch.deallocate()
    }

    /// The five mask bytes for a 16-byte `sample` (RFC 9001 §5.4.1).
    @inline(__always)
    func mask(sample: UnsafePointer<UInt8>) throws(PacketProtectionError) -> HeaderProtectionMask {
        if let context {
            // ECB with padding off keeps no state between whole blocks, so the context needs no re-init.
            var outputLength: Int32 = 0
            guard EVP_EncryptUpdate(context, scratch, &outputLength, sample, 16) == 1, outputLength == 16 else {
                throw PacketProtectionFailure.failure("AES-ECB header protection")
            }
        } else {
            // counter = sample[0..<4] little-endian, nonce = sample[4..<16]; encrypt five zero bytes.
            let counter = UInt32(sample[0]) | UInt32(sample[1]) << 8 | UInt32(sample[2]) << 16 | UInt32(sample[3]) << 24
            guard crypto_stream_chacha20_ietf_xor_ic(scratch, scratch + 16, 5, sample + 4, counter, scratch + 32) == 0
            else { throw .cryptoFailure("ChaCha20 header protection") }
        }
        return HeaderProtectionMask(first: scratch[0], packetNumber: (scratch[1], scratch[2], scratch[3], scratch[4]))
    }
}

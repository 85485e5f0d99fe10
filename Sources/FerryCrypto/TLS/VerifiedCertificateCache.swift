import COpenSSL

/// Remembers peer certificates whose self-signature already verified, so a reconnecting peer costs one Ed25519
/// verification less.
///
/// Checking a self-signed certificate's signature (`X509_verify`) is the single most expensive step of a Ferry
/// handshake after the key exchange: OpenSSL 3.0 verifies Ed25519 at ~8k/s on one core, and every handshake also
/// verifies the CertificateVerify signature (RFC 8446 §4.4.3). Whether a certificate is validly self-signed is a
/// pure function of its DER bytes, so the verdict can be reused: entries are keyed by the complete DER encoding
/// (compared byte for byte, never by a digest alone) and map to the certified key. Only successes are stored.
/// The CertificateVerify check, which proves possession of the key in THIS handshake, is never skipped.
///
/// Bounded (`capacity` entries; the oldest half is dropped when full) and shared by every session in the
/// process behind an OpenSSL lock, because sessions run on several event-loop threads.
final class VerifiedCertificateCache: @unchecked Sendable {
    // @unchecked Sendable: every access to `entries` and `order` happens with `lock` held.

    /// The process-wide cache used by `OpenSSLHandshakeSession`.
    static let shared = VerifiedCertificateCache(capacity: 1024)

    private let capacity: Int
    private let lock: UnsafeMutableRawPointer?
    private var entries: [[UInt8]: EndpointID] = [:]
    /// Insertion order, for dropping the oldest entries when full.
    private var order: [[UInt8]] = []

    init(capacity: Int) {
        self.capacity = max(capacity, 2)
        self.lock = CRYPTO_THREAD_lock_new()
    }

    deinit {
        CRYPTO_THREAD_lock_free(lock)
    }

    /// The key certified by `der` if it verified before.
    func certifiedKey(of der: [UInt8]) -> EndpointID? {
        guard let lock, CRYPTO_THREAD_read_lock(lock) == 1 else { return nil }
        defer { CRYPTO_THREAD_unlock(lock) }
        return entries[der]
    }

    /// Records that `der` is validly self-signed by `id`'s key.
    func insert(_ der: [UInt8], certifying id: EndpointID) {
        guard let lock, CRYPTO_THREAD_write_lock(lock) == 1 else { return }
        defer { CRYPTO_THREAD_unlock(lock) }
        guard entries[der] == nil else { return }
        if order.count >= capacity {
            let dropped = order.count / 2
            for old in order[0..<dropped] { entries[old] = nil }
            order.removeFirst(dropped)
        }
        entries[der] = id
        order.append(der)
    }

    /// The DER encoding of `certificate` as received (OpenSSL keeps the original to-be-signed bytes).
    static func encoding(of certificate: OpaquePointer) -> [UInt8]? {
        let length = i2d_X509(certificate, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509(certificate, &cursor)
        }
        return written == length ? der : nil
    }
}

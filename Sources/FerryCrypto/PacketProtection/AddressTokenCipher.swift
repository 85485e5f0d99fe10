/// Seals and opens address-validation tokens with a static key (RFC 9000 §8.1.3, §8.1.4).
///
/// Tokens travel through the client, so they are authenticated and encrypted: AES-256-GCM under a key derived
/// from the endpoint's static token key with HMAC-SHA256. A token is `nonce ‖ ciphertext ‖ tag`; the caller
/// supplies the 12-byte nonce (from the endpoint's random source, so seeded tests stay reproducible) and the
/// associated data that binds the token to what must not change (its kind and the client's address). Not
/// thread-safe: one endpoint uses it from one thread.
public final class AddressTokenCipher {
    /// Nonce bytes at the start of every sealed token.
    public static let nonceLength = 12
    /// Bytes a sealed token adds to its plaintext: the nonce and the AEAD tag.
    public static let overhead = nonceLength + 16

    private let aead: AEAD

    /// Creates a cipher from a static key of any length (32 random bytes recommended).
    public init(key: [UInt8]) throws(PacketProtectionError) {
        let derived = KeyedMAC(key: key).authenticate(label: 0x02, message: Array("ferry address token".utf8))
        aead = try AEAD(cipherSuite: .aes256GCMSHA384, key: derived)
    }

    /// Seals `plaintext`: returns `nonce ‖ ciphertext ‖ tag`, or nil if the nonce is malformed or OpenSSL fails.
    public func seal(nonce: [UInt8], associatedData: [UInt8], plaintext: [UInt8]) -> [UInt8]? {
        guard nonce.count == Self.nonceLength,
            let sealed = try? aead.seal(nonce: nonce, aad: associatedData, plaintext: plaintext)
        else { return nil }
        return nonce + sealed
    }

    /// Opens a sealed token; nil when it is too short, was forged or altered, or the associated data differs.
    public func open(_ token: some Collection<UInt8>, associatedData: [UInt8]) -> [UInt8]? {
        guard token.count >= Self.overhead else { return nil }
        let bytes = Array(token)
        let nonce = Array(bytes[0..<Self.nonceLength])
        return try? aead.open(nonce: nonce, aad: associatedData, ciphertextAndTag: Array(bytes[Self.nonceLength...]))
    }
}

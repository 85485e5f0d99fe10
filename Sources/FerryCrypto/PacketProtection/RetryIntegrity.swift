/// The Retry packet integrity tag (RFC 9001 §5.8).
///
/// The tag is AES-128-GCM over an empty plaintext whose associated data is the Retry pseudo-packet: the original
/// Destination Connection ID (length-prefixed) followed by the Retry packet without its tag. The key and nonce are
/// fixed, public constants: the tag detects corruption and off-path forgery of Retry packets, not secrecy.
public enum RetryIntegrity {
    static let key: [UInt8] = [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e,
    ]
    static let nonce: [UInt8] = [0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb]

    /// The 16-byte tag to append to `retryPacketWithoutTag`.
    public static func tag(
        retryPacketWithoutTag: [UInt8],
        originalDestinationConnectionID: [UInt8]
    ) throws(PacketProtectionError) -> [UInt8] {
        let aad = try pseudoPacket(
            retryPacketWithoutTag[...], originalDestinationConnectionID: originalDestinationConnectionID)
        return try AEAD(cipherSuite: .aes128GCMSHA256, key: key).seal(nonce: nonce, aad: aad, plaintext: [])
    }

    /// Whether the last 16 bytes of `retryPacket` are its valid integrity tag. A client discards a Retry for
    /// which this is false (RFC 9000 §17.2.5.2).
    public static func verify(retryPacket: [UInt8], originalDestinationConnectionID: [UInt8]) -> Bool {
        guard retryPacket.count >= AEADContext.tagLength else { return false }
        let split = retryPacket.count - AEADContext.tagLength
        do {
            let aad = try pseudoPacket(
                retryPacket[..<split], originalDestinationConnectionID: originalDestinationConnectionID)
            let aead = try AEAD(cipherSuite: .aes128GCMSHA256, key: key)
            _ = try aead.open(nonce: nonce, aad: aad, ciphertextAndTag: Array(retryPacket[split...]))
            return true
        } catch {
            return false
        }
    }

    /// The Retry pseudo-packet (RFC 9001 §5.8 Figure 8).
    private static func pseudoPacket(
        _ retryPacketWithoutTag: ArraySlice<UInt8>,
        originalDestinationConnectionID: [UInt8]
    ) throws(PacketProtectionError) -> [UInt8] {
        guard originalDestinationConnectionID.count <= 255 else { throw .bufferTooSmall }
        var pseudo: [UInt8] = []
        pseudo.reserveCapacity(1 + originalDestinationConnectionID.count + retryPacketWithoutTag.count)
        pseudo.append(UInt8(originalDestinationConnectionID.count))
        pseudo += originalDestinationConnectionID
        pseudo += retryPacketWithoutTag
        return pseudo
    }
}

/// An AEAD key for TLS 1.3 record protection (RFC 8446 §5.2), used by the TLS driver's QUIC-compat layer.
///
/// OpenSSL 3.0 has no QUIC API, so the TLS driver translates TLS records (like nginx's and HAProxy's compat
/// layers) and needs to seal and open them itself. This wraps the same reusable OpenSSL contexts as packet
/// protection. Not thread-safe: use from one thread at a time.
public final class AEAD {
    /// The cipher suite this key belongs to.
    public let cipherSuite: CipherSuite
    private let context: AEADContext

    /// Keys the AEAD; `key` must be `cipherSuite.keyLength` bytes.
    public init(cipherSuite: CipherSuite, key: [UInt8]) throws(PacketProtectionError) {
        self.cipherSuite = cipherSuite
        self.context = try AEADContext(cipherSuite: cipherSuite, key: key)
    }

    /// Encrypts `plaintext` and returns ciphertext followed by the 16-byte tag.
    ///
    /// `nonce` must be 12 bytes (RFC 8446 §5.3: the IV XOR the record sequence number).
    public func seal(nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(PacketProtectionError) -> [UInt8] {
        var output = plaintext
        output.append(contentsOf: repeatElement(0, count: AEADContext.tagLength))
        try transform(.seal, nonce: nonce, aad: aad, messageAndTag: &output)
        return output
    }

    /// Verifies and decrypts ciphertext followed by its 16-byte tag, returning the plaintext.
    ///
    /// Throws `.authenticationFailed` when the tag does not verify (or the input is shorter than a tag).
    public func open(
        nonce: [UInt8],
        aad: [UInt8],
        ciphertextAndTag: [UInt8]
    ) throws(PacketProtectionError) -> [UInt8] {
        var output = ciphertextAndTag
        try transform(.open, nonce: nonce, aad: aad, messageAndTag: &output)
        output.removeLast(AEADContext.tagLength)
        return output
    }

    private enum Direction {
        case seal
        case open
    }

    /// Seals or opens `messageAndTag` in place: the message, then room for (or the received) 16-byte tag.
    private func transform(
        _ direction: Direction,
        nonce: [UInt8],
        aad: [UInt8],
        messageAndTag: inout [UInt8]
    ) throws(PacketProtectionError) {
        guard nonce.count == AEADContext.nonceLength else { throw .cryptoFailure("AEAD nonce must be 12 bytes") }
        guard messageAndTag.count >= AEADContext.tagLength else { throw .authenticationFailed }
        let length = messageAndTag.count - AEADContext.tagLength
        let result: Result<Void, PacketProtectionError> = nonce.withUnsafeBufferPointer { nonceBytes in
            aad.withUnsafeBufferPointer { aadBytes in
                messageAndTag.withUnsafeMutableBufferPointer { bytes in
                    Result { () throws(PacketProtectionError) in
                        guard let nonceBase = nonceBytes.baseAddress, let base = bytes.baseAddress else {
                            throw .bufferTooSmall
                        }
                        switch direction {
                        case .seal:
                            try context.seal(
                                nonce: nonceBase, aad: aadBytes.baseAddress, aadLength: aadBytes.count,
                                data: base, length: length, tag: base + length)
                        case .open:
                            try context.open(
                                nonce: nonceBase, aad: aadBytes.baseAddress, aadLength: aadBytes.count,
                                data: base, length: length, tag: base + length)
                        }
                    }
                }
            }
        }
        try result.get()
    }
}

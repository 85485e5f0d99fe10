import COpenSSL

/// QUIC packet protection with OpenSSL EVP for one direction at one encryption level (RFC 9001 §5).
///
/// Everything a packet needs is prepared when the key is installed: two keyed AEAD contexts, a keyed
/// header-protection context and a fixed scratch area for the IV and nonce. Per packet the code only XORs the
/// packet number into the nonce (§5.3), sets it, and runs the cipher in place, so sealing and opening allocate
/// nothing. Not `Sendable`: the transport uses a protector from its connection's thread only, as the
/// `PacketProtector` contract states.
final class OpenSSLPacketProtector: PacketProtector {
    let cipherSuite: CipherSuite
    /// The traffic secret this key phase was derived from; kept for the next key update (RFC 9001 §6.1).
    private let secret: [UInt8]
    private let aead: AEADContext
    private let headerProtection: HeaderProtectionContext
    /// Bytes 0..<12 hold the IV, bytes 16..<28 the per-packet nonce. Allocated once per key.
    private let nonceScratch: UnsafeMutablePointer<UInt8>
    /// The IV's last eight bytes as a big-endian integer, so building a nonce is one XOR (RFC 9001 §5.3).
    private let ivLow: UInt64

    var tagLength: Int { AEADContext.tagLength }
    var sampleLength: Int { 16 }

    /// Derives key, IV and (unless `headerProtection` is given) the header-protection key from `secret`
    /// with the "quic key", "quic iv" and "quic hp" labels (RFC 9001 §5.1).
    init(
        cipherSuite: CipherSuite,
        secret: [UInt8],
        headerProtection: HeaderProtectionContext? = nil
    ) throws(PacketProtectionError) {
        let hash = cipherSuite.hashAlgorithm
        let key = try HKDF.expandLabel(secret: secret, label: "quic key", length: cipherSuite.keyLength, hash: hash)
        let iv = try HKDF.expandLabel(secret: secret, label: "quic iv", length: cipherSuite.ivLength, hash: hash)
        if let headerProtection {
            self.headerProtection = headerProtection
        } else {
            let headerKey = try HKDF.expandLabel(
                secret: secret, label: "quic hp", length: cipherSuite.keyLength, hash: hash)
            self.headerProtection = try HeaderProtectionContext(cipherSuite: cipherSuite, key: headerKey)
        }
        self.aead = try AEADContext(cipherSuite: cipherSuite, key: key)
        self.cipherSuite = cipherSuite
        self.secret = secret
        var low: UInt64 = 0
        for byte in iv[4..<12] { low = low << 8 | UInt64(byte) }
        self.ivLow = low
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        scratch.initialize(repeating: 0, count: 32)
        for index in 0..<12 {
            scratch[index] = iv[index]
            scratch[16 + index] = iv[index]
        }
        self.nonceScratch = scratch
    }

    deinit {
        nonceScratch.deallocate()
    }

    /// Writes IV XOR packet number (left-padded to 12 bytes) into the scratch nonce (RFC 9001 §5.3).
    @inline(__always)
    private func makeNonce(packetNumber: UInt64) -> UnsafePointer<UInt8> {
        let nonce = nonceScratch + 16
        // Bytes 0..<4 of the nonce equal the IV's (the packet number is at most 62 bits); only 4..<12 change.
        UnsafeMutableRawPointer(nonce + 4).storeBytes(of: (ivLow ^ packetNumber).bigEndian, as: UInt64.self)
        return UnsafePointer(nonce)
    }

    func seal(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        payloadEnd: Int
    ) throws(PacketProtectionError) {
        guard let base = buffer.baseAddress, headerStart >= 0, headerStart <= payloadStart,
            payloadStart <= payloadEnd, payloadEnd <= buffer.count - AEADContext.tagLength
        else { throw .bufferTooSmall }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        try aead.seal(
            nonce: makeNonce(packetNumber: packetNumber),
            aad: bytes + headerStart,
            aadLength: payloadStart - headerStart,
            data: bytes + payloadStart,
            length: payloadEnd - payloadStart,
            tag: bytes + payloadEnd
        )
    }

    func open(
        packetNumber: UInt64,
        buffer: UnsafeMutableRawBufferPointer,
        headerStart: Int,
        payloadStart: Int,
        end: Int
    ) throws(PacketProtectionError) -> Int {
        guard let base = buffer.baseAddress, headerStart >= 0, headerStart <= payloadStart, end <= buffer.count
        else { throw .bufferTooSmall }
        // Too short to hold a tag: it cannot authenticate, so the caller drops it like any forgery.
        guard end - payloadStart >= AEADContext.tagLength else { throw .authenticationFailed }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let plaintextLength = end - payloadStart - AEADContext.tagLength
        try aead.open(
            nonce: makeNonce(packetNumber: packetNumber),
            aad: bytes + headerStart,
            aadLength: payloadStart - headerStart,
            data: bytes + payloadStart,
            length: plaintextLength,
            tag: bytes + payloadStart + plaintextLength
        )
        return plaintextLength
    }

    func headerProtectionMask(sample: UnsafeRawBufferPointer) throws(PacketProtectionError) -> HeaderProtectionMask {
        guard let base = sample.baseAddress, sample.count >= sampleLength else { throw .bufferTooSmall }
        return try headerProtection.mask(sample: base.assumingMemoryBound(to: UInt8.self))
    }

    func makeNextKeyPhase() throws(PacketProtectionError) -> any PacketProtector {
        let hash = cipherSuite.hashAlgorithm
        let nextSecret = try HKDF.expandLabel(secret: secret, label: "quic ku", length: hash.digestLength, hash: hash)
        return try OpenSSLPacketProtector(
            cipherSuite: cipherSuite, secret: nextSecret, headerProtection: headerProtection)
    }
}

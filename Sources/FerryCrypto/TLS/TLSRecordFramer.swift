/// Turns QUIC CRYPTO stream bytes back into TLS 1.3 records for OpenSSL's read BIO.
///
/// Stock OpenSSL 3.0 has no QUIC API, so the handshake session feeds it what a TLS-over-TCP peer would have
/// sent: the same handshake messages, framed as records (RFC 8446 §5.1). Initial-level bytes are plaintext
/// records; at the Handshake and later levels they are protected with the peer's traffic secret exactly as the
/// peer's TLS stack would have done (RFC 8446 §5.2-§5.3), so OpenSSL's record layer decrypts them with the keys it
/// derived itself. This is the technique of nginx's and HAProxy's OpenSSL compatibility layers.
struct TLSRecordFramer {
    /// Record content types (RFC 8446 §5.1).
    static let handshakeContentType: UInt8 = 22
    static let applicationDataContentType: UInt8 = 23
    /// The largest record fragment (RFC 8446 §5.1: 2^14 bytes).
    static let maximumFragmentLength = 16_384
    /// `legacy_record_version` (RFC 8446 §5.1).
    static let legacyVersion: (UInt8, UInt8) = (0x03, 0x03)

    /// Appends `data` as plaintext handshake records (the Initial level).
    static func appendPlaintextRecords(of data: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        var start = 0
        while start < data.count {
            let end = min(start + maximumFragmentLength, data.count)
            appendHeader(contentType: handshakeContentType, length: end - start, to: &output)
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[start..<end]))
            start = end
        }
    }

    /// Writes the 5-byte record header.
    static func appendHeader(contentType: UInt8, length: Int, to output: inout [UInt8]) {
        output.append(contentType)
        output.append(legacyVersion.0)
        output.append(legacyVersion.1)
        output.append(UInt8(truncatingIfNeeded: length >> 8))
        output.append(UInt8(truncatingIfNeeded: length))
    }
}

/// TLS 1.3 record protection for one traffic secret, in the sending direction (RFC 8446 §5.2, §5.3).
///
/// Used to re-encrypt the peer's handshake bytes with the peer's own secret before OpenSSL reads them. The record
/// sequence number starts at zero for each key, matching OpenSSL's read side.
final class TLSRecordSealer {
    private let aead: AEADContext
    private let iv: [UInt8]
    private var sequenceNumber: UInt64 = 0

    /// Derives the record key and IV from a traffic secret with HKDF-Expand-Label "key" and "iv" (RFC 8446 §7.3).
    init(cipherSuite: CipherSuite, secret: [UInt8]) throws(PacketProtectionError) {
        let key = try HKDF.expandLabel(
            secret: secret, label: "key", length: cipherSuite.keyLength, hash: cipherSuite.hashAlgorithm)
        iv = try HKDF.expandLabel(
            secret: secret, label: "iv", length: cipherSuite.ivLength, hash: cipherSuite.hashAlgorithm)
        aead = try AEADContext(cipherSuite: cipherSuite, key: key)
    }

    /// Appends `data` as protected records: each fragment is followed by the inner content type 0x16, the whole
    /// sealed with AAD = the outer header (type 23, version 0x0303, ciphertext length) and nonce = IV XOR the
    /// 64-bit sequence number (RFC 8446 §5.2, §5.3).
    func appendProtectedRecords(of data: UnsafeRawBufferPointer, to output: inout [UInt8]) throws(PacketProtectionError) {
        var start = 0
        while start < data.count {
            let end = min(start + TLSRecordFramer.maximumFragmentLength, data.count)
            let innerLength = end - start + 1
            let recordLength = innerLength + AEADContext.tagLength
            let headerStart = output.count
            TLSRecordFramer.appendHeader(
                contentType: TLSRecordFramer.applicationDataContentType, length: recordLength, to: &output)
            let payloadStart = output.count
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[start..<end]))
            output.append(TLSRecordFramer.handshakeContentType)
            output.append(contentsOf: repeatElement(0, count: AEADContext.tagLength))
            var nonce = iv
            for index in 0..<8 {
                nonce[nonce.count - 1 - index] ^= UInt8(truncatingIfNeeded: sequenceNumber >> (8 * UInt64(index)))
            }
            sequenceNumber += 1
            try output.withUnsafeMutableBufferPointer { (buffer) throws(PacketProtectionError) in
                guard let base = buffer.baseAddress else { throw .bufferTooSmall }
                try nonce.withUnsafeBufferPointer { (nonceBytes) throws(PacketProtectionError) in
                    guard let noncePointer = nonceBytes.baseAddress else { throw .bufferTooSmall }
                    try aead.seal(
                        nonce: noncePointer,
                        aad: base + headerStart,
                        aadLength: payloadStart - headerStart,
                        data: base + payloadStart,
                        length: innerLength,
                        tag: base + payloadStart + innerLength)
                }
            }
            start = end
        }
    }
}

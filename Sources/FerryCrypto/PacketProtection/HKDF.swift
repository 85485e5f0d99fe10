import COpenSSL

/// HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1), as QUIC uses them (RFC 9001 §5.1).
///
/// Key derivation runs a handful of times per connection (Initial keys, handshake secrets, key updates), never per
/// packet, so these functions favour clarity over avoiding allocation. They throw only when OpenSSL fails or when
/// a caller asks for an output length HKDF cannot produce.
public enum HKDF {
    /// HKDF-Extract (RFC 5869 §2.2): `HMAC-Hash(salt, inputKeyMaterial)`.
    ///
    /// An empty salt means a string of `hash.digestLength` zero bytes, as RFC 5869 specifies.
    public static func extract(
        salt: [UInt8],
        inputKeyMaterial: [UInt8],
        hash: HashAlgorithm
    ) throws(PacketProtectionError) -> [UInt8] {
        let key = salt.isEmpty ? [UInt8](repeating: 0, count: hash.digestLength) : salt
        return try hmac(key: key, data: inputKeyMaterial, hash: hash)
    }

    /// HKDF-Expand (RFC 5869 §2.3) producing `length` bytes from the pseudorandom key `secret`.
    public static func expand(
        secret: [UInt8],
        info: [UInt8],
        length: Int,
        hash: HashAlgorithm
    ) throws(PacketProtectionError) -> [UInt8] {
        guard length >= 0, length <= 255 * hash.digestLength else {
            throw .cryptoFailure("HKDF-Expand length \(length) out of range")
        }
        var output: [UInt8] = []
        output.reserveCapacity(length + hash.digestLength)
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            previous = try hmac(key: secret, data: previous + info + [counter], hash: hash)
            output += previous
            counter &+= 1
        }
        return Array(output.prefix(length))
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1) with `label` given WITHOUT the "tls13 " prefix, which this adds.
    ///
    /// QUIC uses labels such as "quic key", "quic iv", "quic hp" and "quic ku" (RFC 9001 §5.1, §6.1), and the
    /// Initial secrets use "client in" and "server in" (RFC 9001 §5.2).
    public static func expandLabel(
        secret: [UInt8],
        label: String,
        context: [UInt8] = [],
        length: Int,
        hash: HashAlgorithm
    ) throws(PacketProtectionError) -> [UInt8] {
        let fullLabel = Array("tls13 ".utf8) + Array(label.utf8)
        guard length >= 0, length <= 0xFFFF, fullLabel.count <= 255, context.count <= 255 else {
            throw .cryptoFailure("HKDF-Expand-Label argument out of range")
        }
        var info: [UInt8] = []
        info.reserveCapacity(4 + fullLabel.count + context.count)
        info.append(UInt8(truncatingIfNeeded: length >> 8))
        info.append(UInt8(truncatingIfNeeded: length))
        info.append(UInt8(fullLabel.count))
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        return try expand(secret: secret, info: info, length: length, hash: hash)
    }

    /// One HMAC computation with OpenSSL's one-shot `HMAC()`.
    static func hmac(key: [UInt8], data: [UInt8], hash: HashAlgorithm) throws(PacketProtectionError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        var outputLength: UInt32 = 0
        let result = key.withUnsafeBufferPointer { keyBuffer in
            data.withUnsafeBufferPointer { dataBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    HMAC(
                        hash.evpDigest,
                        keyBuffer.baseAddress,
                        Int32(keyBuffer.count),
                        dataBuffer.baseAddress,
                        dataBuffer.count,
                        outputBuffer.baseAddress,
                        &outputLength
                    )
                }
            }
        }
        guard result != nil, Int(outputLength) == hash.digestLength else {
            throw PacketProtectionFailure.failure("HMAC")
        }
        return Array(output.prefix(Int(outputLength)))
    }
}

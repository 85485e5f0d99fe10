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

    /// One HMAC computation (RFC 2104) over SHA-256 or SHA-384 digests fetched once per process.
    ///
    /// OpenSSL 3.0's one-shot `HMAC()` fetches the HMAC implementation and the digest by name on every call (a
    /// lock and a name-map search each); a handshake runs some 30 HMACs, so this computes
    /// `H((K ^ opad) || H((K ^ ipad) || data))` with pre-fetched `EVP_MD`s instead.
    static func hmac(key: [UInt8], data: [UInt8], hash: HashAlgorithm) throws(PacketProtectionError) -> [UInt8] {
        guard let digest = FetchedDigest.digest(for: hash), let context = EVP_MD_CTX_new() else {
            throw PacketProtectionFailure.failure("HMAC")
        }
        defer { EVP_MD_CTX_free(context) }
        let blockSize = FetchedDigest.blockSize(for: hash)
        var keyBlock = [UInt8](repeating: 0, count: blockSize)
        if key.count > blockSize {
            let hashedKey = try FetchedDigest.hash([key], digest: digest, context: context, length: hash.digestLength)
            keyBlock.replaceSubrange(0..<hashedKey.count, with: hashedKey)
        } else {
            keyBlock.replaceSubrange(0..<key.count, with: key)
        }
        defer { for index in keyBlock.indices { keyBlock[index] = 0 } }
        var pad = keyBlock.map { $0 ^ 0x36 }
        let inner = try FetchedDigest.hash([pad, data], digest: digest, context: context, length: hash.digestLength)
        for index in pad.indices { pad[index] = keyBlock[index] ^ 0x5C }
        defer { for index in pad.indices { pad[index] = 0 } }
        return try FetchedDigest.hash([pad, inner], digest: digest, context: context, length: hash.digestLength)
    }
}

/// SHA-256 and SHA-384 fetched once (OpenSSL 3 explicit fetch), so key derivation does no per-call lookup.
enum FetchedDigest {
    // nonisolated(unsafe): fetched EVP_MD objects are immutable and reference-counted atomically, so OpenSSL
    // allows sharing them between threads; they live for the whole process.
    nonisolated(unsafe) static let sha256 = EVP_MD_fetch(nil, "SHA256", nil)
    nonisolated(unsafe) static let sha384 = EVP_MD_fetch(nil, "SHA384", nil)

    static func digest(for hash: HashAlgorithm) -> OpaquePointer? {
        switch hash {
        case .sha256: sha256
        case .sha384: sha384
        }
    }

    /// The HMAC block size (RFC 2104 §2): 64 bytes for SHA-256, 128 for SHA-384.
    static func blockSize(for hash: HashAlgorithm) -> Int {
        switch hash {
        case .sha256: 64
        case .sha384: 128
        }
    }

    /// The digest of the concatenated `parts`, computed on the reusable `context`.
    static func hash(
        _ parts: [[UInt8]], digest: OpaquePointer, context: OpaquePointer, length: Int
    ) throws(PacketProtectionError) -> [UInt8] {
        guard EVP_DigestInit_ex2(context, digest, nil) == 1 else { throw PacketProtectionFailure.failure("HMAC") }
        for part in parts {
            let updated = part.withUnsafeBytes { bytes in EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
            guard updated == 1 else { throw PacketProtectionFailure.failure("HMAC") }
        }
        var output = [UInt8](repeating: 0, count: 64)
        var outputLength: UInt32 = 0
        let finished = output.withUnsafeMutableBufferPointer { buffer in
            EVP_DigestFinal_ex(context, buffer.baseAddress, &outputLength)
        }
        guard finished == 1, Int(outputLength) == length else { throw PacketProtectionFailure.failure("HMAC") }
        return Array(output.prefix(length))
    }
}

import COpenSSL

/// An incremental SHA-256 (FIPS 180-4) by OpenSSL's EVP interface, for checksumming bytes as they stream past:
/// the daemon tests use it to prove that data crossed tunnels unchanged. Not used on the packet path.
package final class SHA256Digest {
    private let context: OpaquePointer?
    private var isUsable: Bool

    /// Starts an empty digest.
    package init() {
        context = EVP_MD_CTX_new()
        if let context, let digest = FetchedDigest.digest(for: .sha256) {
            isUsable = EVP_DigestInit_ex(context, digest, nil) == 1
        } else {
            isUsable = false
        }
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes`.
    package func update(_ bytes: some Collection<UInt8>) {
        guard isUsable else { return }
        let done = bytes.withContiguousStorageIfAvailable { buffer in
            EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) == 1
        }
        if let done {
            isUsable = done
        } else {
            let copy = Array(bytes)
            isUsable = copy.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) == 1 }
        }
    }

    /// The 32-byte digest; nil if OpenSSL failed. Ends the digest.
    package func finalize() -> [UInt8]? {
        guard isUsable else { return nil }
        isUsable = false
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &output, &length) == 1, length == 32 else { return nil }
        return output
    }
}

import CSodium

/// HMAC-SHA256 (RFC 2104) with a static key, via libsodium.
///
/// Stateless reset tokens (RFC 9000 §10.3.2) and the keys of address-validation tokens (RFC 9000 §8.1.4) must be
/// unpredictable to anyone without the endpoint's static key, so they are derived with a real keyed MAC rather
/// than a mixing hash. libsodium's HMAC accepts keys of any length and cannot fail, so no error path reaches the
/// transport.
public struct KeyedMAC: Sendable {
    /// The output length of HMAC-SHA256 in bytes.
    public static let outputLength = 32

    private let key: [UInt8]

    /// Creates a MAC keyed with `key` (any length; 32 random bytes recommended).
    public init(key: [UInt8]) {
        self.key = key
    }

    /// HMAC-SHA256 of `label` followed by `message`; the label separates the different uses of one key.
    public func authenticate(label: UInt8, message: some Collection<UInt8>) -> [UInt8] {
        var state = crypto_auth_hmacsha256_state()
        var output = [UInt8](repeating: 0, count: Self.outputLength)
        // HMAC zero-pads keys to the block size, so an empty key is the same as one zero byte (RFC 2104 §2).
        let effectiveKey = key.isEmpty ? [0] : key
        effectiveKey.withUnsafeBufferPointer { keyBytes in
            guard let base = keyBytes.baseAddress else { return }
            _ = crypto_auth_hmacsha256_init(&state, base, keyBytes.count)
        }
        var labelByte = label
        _ = crypto_auth_hmacsha256_update(&state, &labelByte, 1)
        let handled: Void? = message.withContiguousStorageIfAvailable { bytes in
            _ = crypto_auth_hmacsha256_update(&state, bytes.baseAddress, UInt64(bytes.count))
        }
        if handled == nil {
            let copy = Array(message)
            copy.withUnsafeBufferPointer { bytes in
                _ = crypto_auth_hmacsha256_update(&state, bytes.baseAddress, UInt64(bytes.count))
            }
        }
        output.withUnsafeMutableBufferPointer { bytes in
            guard let base = bytes.baseAddress else { return }
            _ = crypto_auth_hmacsha256_final(&state, base)
        }
        return output
    }

    /// The 16-byte stateless reset token for a connection ID (RFC 9000 §10.3.2): the first half of
    /// HMAC-SHA256(key, 0x01 ‖ connection ID), so the endpoint can recompute it after losing all state.
    public func statelessResetToken(for connectionID: some Collection<UInt8>) -> [UInt8] {
        Array(authenticate(label: 0x01, message: connectionID).prefix(16))
    }
}

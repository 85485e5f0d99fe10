import COpenSSL

/// Turns OpenSSL's thread-local error queue into a `PacketProtectionError` (cold path only).
enum PacketProtectionFailure {
    /// A `.cryptoFailure` naming the failed call and OpenSSL's first queued reason; clears the queue.
    static func failure(_ operation: String) -> PacketProtectionError {
        let code = ERR_get_error()
        var reason = operation
        if code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            reason += ": " + String(decoding: bytes, as: UTF8.self)
        }
        ERR_clear_error()
        return .cryptoFailure(reason)
    }
}

import COpenSSL

extension HandshakeError {
    /// A failure of an OpenSSL call, with OpenSSL's first queued reason; clears the thread's error queue.
    ///
    /// Every OpenSSL failure in the TLS driver becomes a `HandshakeError` so the transport can close with
    /// `CRYPTO_ERROR` (RFC 9001 §4.8); `alert` defaults to internal_error (80) when TLS chose none.
    static func openSSL(_ operation: String, alert: UInt8 = HandshakeError.internalError) -> HandshakeError {
        HandshakeError(alert: alert, reason: operation + openSSLErrorQueueText())
    }

    /// Drains OpenSSL's error queue into ": reason; reason" text (empty when the queue is empty).
    static func openSSLErrorQueueText() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            reasons.append(String(decoding: bytes, as: UTF8.self))
        }
        ERR_clear_error()
        return reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")
    }

    /// The TLS alert names used in reasons, so logs read "bad_certificate" rather than "42" (RFC 8446 §6).
    static func alertName(_ alert: UInt8) -> String {
        switch alert {
        case 10: "unexpected_message"
        case 20: "bad_record_mac"
        case 40: "handshake_failure"
        case 42: "bad_certificate"
        case 43: "unsupported_certificate"
        case 46: "certificate_unknown"
        case 47: "illegal_parameter"
        case 48: "unknown_ca"
        case 50: "decode_error"
        case 51: "decrypt_error"
        case 70: "protocol_version"
        case 80: "internal_error"
        case 109: "missing_extension"
        case 110: "unsupported_extension"
        case 116: "certificate_required"
        case 120: "no_application_protocol"
        default: "alert \(alert)"
        }
    }
}

import COpenSSL

/// Server-side ALPN (RFC 7301) as every Ferry TLS server applies it: a ClientHello must offer a protocol, and the
/// server picks the first offered one it accepts or refuses the handshake with no_application_protocol (120).
///
/// Shared by the QUIC handshake (where RFC 9001 §8.1 makes ALPN mandatory) and the stream session, whose relay
/// fallback must refuse the same clients, so both answer a mismatch with the same alert and reason.
enum ALPNSelection {
    /// Whether the ClientHello being processed carries an ALPN extension (for a client-hello callback).
    static func clientHelloOffersALPN(_ ssl: OpaquePointer) -> Bool {
        var data: UnsafePointer<UInt8>?
        var length = 0
        return SSL_client_hello_get0_ext(
            ssl, UInt32(TLSEXT_TYPE_application_layer_protocol_negotiation), &data, &length) == 1
    }

    /// The failure for a ClientHello without ALPN; `rule` cites what makes ALPN mandatory for this server.
    static func missingALPN(rule: String) -> HandshakeError {
        HandshakeError(
            alert: HandshakeError.noApplicationProtocol,
            reason: "the ClientHello offers no application protocol (\(rule))")
    }

    /// The body of an `SSL_CTX_set_alpn_select_cb` callback: points `out` at the first protocol of the client's
    /// list (`input`, wire form) that `accepted` contains and returns `SSL_TLSEXT_ERR_OK`, or returns
    /// `SSL_TLSEXT_ERR_ALERT_FATAL` (OpenSSL then sends no_application_protocol) with the reason.
    static func select(
        out: UnsafeMutablePointer<UnsafePointer<UInt8>?>,
        outLength: UnsafeMutablePointer<UInt8>,
        input: UnsafePointer<UInt8>,
        inputLength: UInt32,
        accepted: [[UInt8]]
    ) -> (result: Int32, failure: HandshakeError?) {
        let offered = UnsafeBufferPointer(start: input, count: Int(inputLength))
        var index = 0
        var offeredNames: [String] = []
        while index < offered.count {
            let length = Int(offered[index])
            let start = index + 1
            guard length > 0, start + length <= offered.count else {
                let failure = HandshakeError(
                    alert: HandshakeError.decodeError, reason: "malformed ALPN list in the ClientHello")
                return (SSL_TLSEXT_ERR_ALERT_FATAL, failure)
            }
            let candidate = offered[start..<start + length]
            if accepted.contains(where: { $0.elementsEqual(candidate) }) {
                out.pointee = input + start
                outLength.pointee = UInt8(length)
                return (SSL_TLSEXT_ERR_OK, nil)
            }
            offeredNames.append(String(decoding: candidate, as: UTF8.self))
            index = start + length
        }
        let failure = HandshakeError(
            alert: HandshakeError.noApplicationProtocol,
            reason: "no common application protocol; the client offered \(offeredNames)")
        return (SSL_TLSEXT_ERR_ALERT_FATAL, failure)
    }
}

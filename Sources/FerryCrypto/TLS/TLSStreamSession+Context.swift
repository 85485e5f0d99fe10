import CFerryShim
import COpenSSL

/// The `SSL_CTX` of a stream session and the C callbacks OpenSSL calls on it, each finding its session through
/// ex_data.
extension TLSStreamSession {
    /// Creates and configures a context for one session; the caller owns the result.
    ///
    /// One context per session keeps the configuration simple and leaves no identity's private key in a
    /// process-wide cache; the cost (a certificate signature and some allocation) is small next to a handshake.
    /// Unlike QUIC's profile, middlebox compatibility stays on (`ferry_SSL_CTX_configure_stream_options`).
    static func makeContext(side: Side, identity: EndpointIdentity) throws(HandshakeError) -> OpaquePointer {
        // Process-wide and once: peer Ed25519 keys skip OpenSSL 3.0's per-certificate decoder lookup.
        _ = Ed25519PeerKeyPath.isActive
        guard let context = SSL_CTX_new(TLS_method()) else { throw .openSSL("SSL_CTX_new") }
        do throws(HandshakeError) {
            try TLSContextSetup.restrictToTLS13(
                context: context, cipherSuites: CipherSuite.allCases,
                groups: OpenSSLCryptoProvider.defaultKeyExchangeGroups)
            guard ferry_SSL_CTX_configure_stream_options(context) == 1 else { throw .openSSL("SSL_CTX options") }
            try TLSContextSetup.installCertificate(context: context, identity: identity)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        TLSContextSetup.requirePeerCertificates(context: context, side: side) { storeContext, _ in
            TLSStreamSession.verifyCertificateCallback(storeContext: storeContext)
        }
        SSL_CTX_set_msg_callback(context) { writeP, _, contentType, buffer, length, ssl, _ in
            TLSStreamSession.messageCallback(
                isWrite: writeP == 1, contentType: contentType, buffer: buffer, length: length, ssl: ssl)
        }
        if side == .server {
            SSL_CTX_set_client_hello_cb(context, { ssl, alert, _ in
                TLSStreamSession.clientHelloCallback(ssl: ssl, alert: alert)
            }, nil)
            SSL_CTX_set_alpn_select_cb(context, { ssl, out, outLength, input, inputLength, _ in
                TLSStreamSession.selectALPNCallback(
                    ssl: ssl, out: out, outLength: outLength, input: input, inputLength: inputLength)
            }, nil)
        }
        return context
    }

    /// Replaces X.509 path validation with `PeerCertificateCheck`, as the QUIC handshake does.
    static func verifyCertificateCallback(storeContext: OpaquePointer?) -> Int32 {
        PeerCertificateCheck.finishVerifyCallback(storeContext: storeContext) { ssl, certificate in
            guard let session = session(of: ssl) else { return .noSession }
            do throws(HandshakeError) {
                session.certifiedPeer = try PeerCertificateCheck.certifiedKey(
                    of: certificate, expectedPeer: session.expectedPeer)
                return .accepted
            } catch {
                session.callbackFailure = error
                return .rejected
            }
        }
    }

    /// Notes alerts in both directions, so a failure reports the alert that explains it (close_notify is not a
    /// failure and is seen through `SSL_ERROR_ZERO_RETURN` instead).
    static func messageCallback(
        isWrite: Bool,
        contentType: Int32,
        buffer: UnsafeRawPointer?,
        length: Int,
        ssl: OpaquePointer?
    ) {
        guard contentType == SSL3_RT_ALERT, length >= 2, let buffer, let session = session(of: ssl) else { return }
        let description = buffer.load(fromByteOffset: 1, as: UInt8.self)
        guard description != SSL_AD_CLOSE_NOTIFY else { return }
        session.noteAlert(description, isSent: isWrite)
    }

    /// Refuses a ClientHello without ALPN before any work is done for it: the server requires its protocol.
    static func clientHelloCallback(ssl: OpaquePointer?, alert: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let ssl, let session = session(of: ssl) else {
            alert?.pointee = SSL_AD_INTERNAL_ERROR
            return SSL_CLIENT_HELLO_ERROR
        }
        guard ALPNSelection.clientHelloOffersALPN(ssl) else {
            session.callbackFailure = ALPNSelection.missingALPN(rule: "this server requires ALPN")
            alert?.pointee = Int32(HandshakeError.noApplicationProtocol)
            return SSL_CLIENT_HELLO_ERROR
        }
        return SSL_CLIENT_HELLO_SUCCESS
    }

    /// Selects the server's protocol if the client offered it; otherwise no_application_protocol.
    static func selectALPNCallback(
        ssl: OpaquePointer?,
        out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
        outLength: UnsafeMutablePointer<UInt8>?,
        input: UnsafePointer<UInt8>?,
        inputLength: UInt32
    ) -> Int32 {
        guard let out, let outLength, let input, let session = session(of: ssl) else {
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        let (result, failure) = ALPNSelection.select(
            out: out, outLength: outLength, input: input, inputLength: inputLength, accepted: [session.alpn])
        if let failure { session.callbackFailure = failure }
        return result
    }
}

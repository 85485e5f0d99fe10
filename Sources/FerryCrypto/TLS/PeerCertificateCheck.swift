import COpenSSL

/// The peer-certificate check every Ferry TLS session runs in place of X.509 path validation.
///
/// A Ferry peer is its Ed25519 public key (`EndpointID`), carried in a self-signed certificate: the certificate
/// must hold an Ed25519 key, be validly self-signed, and (for a client) hold exactly the id it dialed. Possession
/// of the key is proved separately by CertificateVerify (RFC 8446 §4.4.3), which OpenSSL checks after this.
/// QUIC handshakes (`OpenSSLHandshakeSession`) and stream sessions (`TLSStreamSession`) share it, so both
/// transports accept exactly the same peers.
enum PeerCertificateCheck {
    /// What a session's verify callback decided about the peer's certificate.
    enum Verdict {
        /// The certificate is acceptable.
        case accepted
        /// The session rejected it (and recorded why).
        case rejected
        /// No session was attached to the `SSL`; nothing can vouch for the certificate.
        case noSession
    }

    /// Runs a certificate-verify callback: finds the `SSL` the store context belongs to, lets `verify` judge the
    /// leaf certificate, and reports the verdict to OpenSSL.
    ///
    /// A rejection sets `X509_V_ERR_CERT_REJECTED`, which OpenSSL answers with bad_certificate (42).
    static func finishVerifyCallback(
        storeContext: OpaquePointer?,
        verify: (_ ssl: OpaquePointer, _ certificate: OpaquePointer?) -> Verdict
    ) -> Int32 {
        guard let storeContext else { return 0 }
        guard let sslPointer = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()) else {
            X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
            return 0
        }
        switch verify(OpaquePointer(sslPointer), X509_STORE_CTX_get0_cert(storeContext)) {
        case .accepted:
            X509_STORE_CTX_set_error(storeContext, X509_V_OK)
            return 1
        case .rejected:
            X509_STORE_CTX_set_error(storeContext, X509_V_ERR_CERT_REJECTED)
            return 0
        case .noSession:
            X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
            return 0
        }
    }

    /// The endpoint id a peer certificate certifies, after checking it is an Ed25519 key in a validly
    /// self-signed certificate and, when `expectedPeer` is set (a client), that it is the dialed id.
    ///
    /// The self-signature check is skipped only for the exact DER bytes of a certificate that passed it before
    /// (`VerifiedCertificateCache`).
    static func certifiedKey(of certificate: OpaquePointer?, expectedPeer: EndpointID?) throws(HandshakeError)
        -> EndpointID
    {
        guard let certificate, let publicKey = X509_get0_pubkey(certificate) else {
            throw HandshakeError(alert: HandshakeError.badCertificate, reason: "the peer sent no usable certificate")
        }
        guard EVP_PKEY_get_base_id(publicKey) == EVP_PKEY_ED25519 else {
            throw HandshakeError(
                alert: HandshakeError.badCertificate, reason: "the peer's certificate key is not Ed25519")
        }
        var raw = [UInt8](repeating: 0, count: 32)
        var rawLength = raw.count
        guard EVP_PKEY_get_raw_public_key(publicKey, &raw, &rawLength) == 1, rawLength == 32,
            let id = EndpointID(rawValue: raw)
        else {
            ERR_clear_error()
            throw HandshakeError(alert: HandshakeError.badCertificate, reason: "cannot read the peer's Ed25519 key")
        }
        let der = VerifiedCertificateCache.encoding(of: certificate)
        if der.flatMap({ VerifiedCertificateCache.shared.certifiedKey(of: $0) }) != id {
            guard X509_verify(certificate, publicKey) == 1 else {
                ERR_clear_error()
                throw HandshakeError(
                    alert: HandshakeError.badCertificate, reason: "the peer's certificate is not validly self-signed")
            }
            if let der { VerifiedCertificateCache.shared.insert(der, certifying: id) }
        }
        if let expectedPeer, id != expectedPeer {
            let proved = id.shortDescription
            throw HandshakeError(
                alert: HandshakeError.badCertificate,
                reason: "the server proved id \(proved)…, not the dialed \(expectedPeer.shortDescription)…")
        }
        return id
    }
}

import CFerryShim
import COpenSSL

/// The `SSL_CTX` configuration every Ferry TLS context shares, whether it carries QUIC's handshake
/// (`OpenSSLCryptoProvider`) or TLS over a byte stream (`TLSStreamSession`).
///
/// Both must authenticate peers the same way, so the pieces that decide it live here once: TLS 1.3 only, Ed25519
/// signatures only, the identity's self-signed certificate, and mutual verification through a callback that
/// replaces X.509 path validation (the peer is its Ed25519 key, not a CA-issued name).
enum TLSContextSetup {
    /// The C signature of `SSL_CTX_set_cert_verify_callback`'s callback.
    typealias VerifyCallback = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32

    /// TLS 1.3 only (RFC 8446; RFC 9001 §4.2 for QUIC), the given cipher suites and key exchange groups, and
    /// Ed25519 as the only signature algorithm, since every Ferry certificate key is an Ed25519 endpoint id.
    static func restrictToTLS13(
        context: OpaquePointer,
        cipherSuites: [CipherSuite],
        groups: String
    ) throws(HandshakeError) {
        guard ferry_SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION) == 1,
            ferry_SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) == 1
        else { throw .openSSL("SSL_CTX_set_min/max_proto_version") }
        let suites = cipherSuites.map(OpenSSLCryptoProvider.openSSLName(of:)).joined(separator: ":")
        guard SSL_CTX_set_ciphersuites(context, suites) == 1 else { throw .openSSL("SSL_CTX_set_ciphersuites") }
        guard ferry_SSL_CTX_set1_groups_list(context, groups) == 1 else {
            throw .openSSL("SSL_CTX_set1_groups_list")
        }
        guard ferry_SSL_CTX_set1_sigalgs_list(context, "ed25519") == 1 else {
            throw .openSSL("SSL_CTX_set1_sigalgs_list")
        }
    }

    /// Loads the identity's Ed25519 key and self-signed certificate into `context`.
    static func installCertificate(context: OpaquePointer, identity: EndpointIdentity) throws(HandshakeError) {
        let der: [UInt8]
        let key: OpaquePointer
        do {
            der = try identity.makeSelfSignedCertificate()
            key = try identity.makeOpenSSLPrivateKey()
        } catch {
            throw HandshakeError(alert: HandshakeError.internalError, reason: "identity: \(error)")
        }
        defer { EVP_PKEY_free(key) }
        let certificate: OpaquePointer? = der.withUnsafeBufferPointer { bytes in
            var cursor = bytes.baseAddress
            return d2i_X509(nil, &cursor, bytes.count)
        }
        guard let certificate else { throw .openSSL("d2i_X509") }
        defer { X509_free(certificate) }
        guard SSL_CTX_use_certificate(context, certificate) == 1 else { throw .openSSL("SSL_CTX_use_certificate") }
        guard SSL_CTX_use_PrivateKey(context, key) == 1 else { throw .openSSL("SSL_CTX_use_PrivateKey") }
        guard SSL_CTX_check_private_key(context) == 1 else { throw .openSSL("SSL_CTX_check_private_key") }
    }

    /// Appends DER certificates to the chain sent after the leaf (RFC 8446 §4.4.2). Peers verify only the leaf's
    /// Ed25519 key, so the chain is never needed to connect; it makes the handshake flight larger (tests of the
    /// anti-amplification limit, RFC 9000 §8.1). A certificate that does not parse throws rather than being
    /// skipped, so a test never runs with a smaller flight than it asked for.
    static func addChainCertificates(context: OpaquePointer, chain: [[UInt8]]) throws(HandshakeError) {
        for der in chain {
            let certificate: OpaquePointer? = der.withUnsafeBufferPointer { bytes in
                var cursor = bytes.baseAddress
                return d2i_X509(nil, &cursor, bytes.count)
            }
            guard let certificate else { throw .openSSL("d2i_X509 (chain certificate)") }
            defer { X509_free(certificate) }
            // add1 takes its own reference, so the defer above frees only ours.
            guard ferry_SSL_CTX_add1_chain_cert(context, certificate) == 1 else {
                throw .openSSL("SSL_CTX_add1_chain_cert")
            }
        }
    }

    /// Mutual authentication: a server demands a client certificate, a client checks the server's, and both hand
    /// the leaf certificate to `callback` (which should end in `PeerCertificateCheck.finishVerifyCallback`).
    static func requirePeerCertificates(context: OpaquePointer, side: Side, callback: VerifyCallback) {
        let verifyMode = side == .server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER
        SSL_CTX_set_verify(context, verifyMode, nil)
        SSL_CTX_set_cert_verify_callback(context, callback, nil)
    }
}

import CFerryShim
import COpenSSL

/// The production `CryptoProvider`: TLS 1.3 from stock OpenSSL 3.0, driven through record translation.
///
/// OpenSSL 3.0 has no QUIC API (RFC 9001 §4 needs handshake bytes and secrets per encryption level), so each
/// session runs an ordinary TLS 1.3 handshake over memory BIOs and translates at the record boundary, as nginx's
/// and HAProxy's OpenSSL compatibility layers do (see `OpenSSLHandshakeSession`). The two `SSL_CTX` objects (one
/// per role) are configured once here and shared by every session, which keeps per-connection setup cheap:
/// TLS 1.3 only, middlebox compatibility off (RFC 9001 §8.4), no session tickets and no 0-RTT, Ed25519 signatures
/// only, key exchange groups X25519 and P-256, and mutual authentication with the identity's self-signed
/// certificate (the peer is its Ed25519 key, not a CA-issued name).
public final class OpenSSLCryptoProvider: CryptoProvider, @unchecked Sendable {
    // @unchecked Sendable: the contexts are fully configured in `init` and never mutated afterwards; OpenSSL
    // documents a configured SSL_CTX as safe to share between threads creating SSL objects. The accepted ALPNs
    // live outside the contexts, in a lock-protected `AcceptedALPNs`.

    /// This endpoint's identity; its certificate is presented in both roles.
    public let identity: EndpointIdentity
    /// The application protocols a server session accepts; changing them affects the next server session only.
    public let acceptedALPNs: AcceptedALPNs
    /// The application protocols a server session accepts now, in this endpoint's preference order.
    public var serverALPNs: [[UInt8]] { acceptedALPNs.protocols }
    /// The cipher suites offered (client) and accepted (server).
    public let cipherSuites: [CipherSuite]

    let clientContext: OpaquePointer
    let serverContext: OpaquePointer

    /// Builds the client and server TLS contexts for `identity`.
    ///
    /// `serverALPNs` are the protocols a server session accepts (RFC 7301): the server picks the first protocol
    /// in the client's list that appears here. Throws `HandshakeError` (internal_error) when OpenSSL rejects the
    /// configuration, for example an empty `cipherSuites`.
    public convenience init(
        identity: EndpointIdentity,
        serverALPNs: [[UInt8]],
        cipherSuites: [CipherSuite] = CipherSuite.allCases
    ) throws(HandshakeError) {
        try self.init(
            identity: identity, serverALPNs: serverALPNs, cipherSuites: cipherSuites,
            keyExchangeGroups: Self.defaultKeyExchangeGroups)
    }

    /// Builds the contexts with a live list of accepted protocols: whoever holds `acceptedALPNs` can change
    /// what the next server handshake accepts (the endpoint does, for `Router.addHandler`), without rebuilding
    /// the `SSL_CTX`, which OpenSSL does not allow once sessions share it.
    ///
    /// `certificateChain` holds DER certificates sent after the identity's own one (RFC 8446 §4.4.2). Peers never
    /// need them (they authenticate the leaf's key); they make the handshake flight as large as a CA-issued chain
    /// would, which tests the anti-amplification limit (RFC 9000 §8.1).
    public convenience init(
        identity: EndpointIdentity,
        acceptedALPNs: AcceptedALPNs,
        cipherSuites: [CipherSuite] = CipherSuite.allCases,
        certificateChain: [[UInt8]] = []
    ) throws(HandshakeError) {
        try self.init(
            identity: identity, acceptedALPNs: acceptedALPNs, cipherSuites: cipherSuites,
            keyExchangeGroups: Self.defaultKeyExchangeGroups, certificateChain: certificateChain)
    }

    /// The key exchange groups offered and accepted, in preference order (OpenSSL names). The client sends a key
    /// share for the first, so X25519 peers never need a HelloRetryRequest.
    static let defaultKeyExchangeGroups = "X25519:P-256"

    /// The full initialiser; `keyExchangeGroups` exists so tests can force a HelloRetryRequest.
    convenience init(
        identity: EndpointIdentity,
        serverALPNs: [[UInt8]],
        cipherSuites: [CipherSuite],
        keyExchangeGroups: String
    ) throws(HandshakeError) {
        let accepted: AcceptedALPNs
        do {
            accepted = try AcceptedALPNs(serverALPNs)
        } catch {
            throw HandshakeError(alert: HandshakeError.internalError, reason: error.description)
        }
        try self.init(
            identity: identity, acceptedALPNs: accepted, cipherSuites: cipherSuites, keyExchangeGroups: keyExchangeGroups)
    }

    init(
        identity: EndpointIdentity,
        acceptedALPNs: AcceptedALPNs,
        cipherSuites: [CipherSuite],
        keyExchangeGroups: String,
        certificateChain: [[UInt8]] = []
    ) throws(HandshakeError) {
        guard !cipherSuites.isEmpty else {
            throw HandshakeError(alert: HandshakeError.internalError, reason: "no TLS cipher suites configured")
        }
        self.identity = identity
        self.acceptedALPNs = acceptedALPNs
        self.cipherSuites = cipherSuites
        // Process-wide and once: peer Ed25519 keys skip OpenSSL 3.0's per-certificate decoder lookup.
        _ = Ed25519PeerKeyPath.isActive
        let clientContext = try Self.makeContext(
            side: .client, identity: identity, cipherSuites: cipherSuites, groups: keyExchangeGroups,
            chain: certificateChain)
        let serverContext: OpaquePointer
        do {
            serverContext = try Self.makeContext(
                side: .server, identity: identity, cipherSuites: cipherSuites, groups: keyExchangeGroups,
                chain: certificateChain)
        } catch {
            SSL_CTX_free(clientContext)
            throw error
        }
        self.clientContext = clientContext
        self.serverContext = serverContext
    }

    deinit {
        SSL_CTX_free(clientContext)
        SSL_CTX_free(serverContext)
    }

    /// Starts a client handshake that must end with the server proving `expectedPeer`'s key.
    public func makeClientSession(
        expectedPeer: EndpointID,
        alpns: [[UInt8]],
        localTransportParameters: [UInt8]
    ) throws(HandshakeError) -> any HandshakeSession {
        try OpenSSLHandshakeSession(
            context: clientContext,
            side: .client,
            expectedPeer: expectedPeer,
            alpns: alpns,
            localTransportParameters: localTransportParameters)
    }

    /// Starts a server handshake that accepts this provider's `serverALPNs` and any Ed25519 client certificate.
    ///
    /// The session keeps the list as it is now: a later change to `acceptedALPNs` applies to the next session,
    /// so a handshake in flight never sees its accepted set change between ClientHello and completion.
    public func makeServerSession(localTransportParameters: [UInt8]) throws(HandshakeError) -> any HandshakeSession {
        try OpenSSLHandshakeSession(
            context: serverContext,
            side: .server,
            expectedPeer: nil,
            alpns: acceptedALPNs.protocols,
            localTransportParameters: localTransportParameters)
    }

    /// Initial packet protection (RFC 9001 §5.2), from the packet protection layer.
    public func makeInitialKeys(destinationConnectionID: [UInt8], side: Side) throws(PacketProtectionError)
        -> PacketKeyPair
    {
        try FerryCrypto.makeInitialKeys(destinationConnectionID: destinationConnectionID, side: side)
    }

    /// OpenSSL's name for a TLS 1.3 suite, for `SSL_CTX_set_ciphersuites`.
    static func openSSLName(of cipherSuite: CipherSuite) -> String {
        switch cipherSuite {
        case .aes128GCMSHA256: "TLS_AES_128_GCM_SHA256"
        case .aes256GCMSHA384: "TLS_AES_256_GCM_SHA384"
        case .chacha20Poly1305SHA256: "TLS_CHACHA20_POLY1305_SHA256"
        }
    }

    /// Creates and configures one role's context; the caller owns the result.
    private static func makeContext(
        side: Side,
        identity: EndpointIdentity,
        cipherSuites: [CipherSuite],
        groups: String,
        chain: [[UInt8]]
    ) throws(HandshakeError) -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_method()) else { throw .openSSL("SSL_CTX_new") }
        do {
            try configure(
                context: context, side: side, identity: identity, cipherSuites: cipherSuites, groups: groups,
                chain: chain)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    private static func configure(
        context: OpaquePointer,
        side: Side,
        identity: EndpointIdentity,
        cipherSuites: [CipherSuite],
        groups: String,
        chain: [[UInt8]]
    ) throws(HandshakeError) {
        // TLS 1.3 only (RFC 9001 §4.2), in QUIC's profile: no middlebox compatibility (§8.4), no tickets, no 0-RTT.
        try TLSContextSetup.restrictToTLS13(context: context, cipherSuites: cipherSuites, groups: groups)
        guard ferry_SSL_CTX_configure_quic_options(context) == 1 else { throw .openSSL("SSL_CTX options") }
        try TLSContextSetup.installCertificate(context: context, identity: identity)
        try TLSContextSetup.addChainCertificates(context: context, chain: chain)

        // Both roles verify: the server demands a client certificate; the client checks the server's key.
        TLSContextSetup.requirePeerCertificates(context: context, side: side) { storeContext, _ in
            OpenSSLHandshakeSession.verifyCertificateCallback(storeContext: storeContext)
        }

        SSL_CTX_set_keylog_callback(context) { ssl, line in
            OpenSSLHandshakeSession.keyLogCallback(ssl: ssl, line: line)
        }
        SSL_CTX_set_msg_callback(context) { writeP, _, contentType, buffer, length, ssl, _ in
            OpenSSLHandshakeSession.messageCallback(
                isWrite: writeP == 1, contentType: contentType, buffer: buffer, length: length, ssl: ssl)
        }
        // quic_transport_parameters (RFC 9001 §8.2) in the ClientHello and the EncryptedExtensions.
        let extensionContext = UInt32(SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS)
        let added = SSL_CTX_add_custom_ext(
            context,
            OpenSSLHandshakeSession.transportParametersExtension,
            extensionContext,
            { ssl, _, _, out, outLength, _, _, alert, _ in
                OpenSSLHandshakeSession.addTransportParametersCallback(
                    ssl: ssl, out: out, outLength: outLength, alert: alert)
            },
            nil,
            nil,
            { ssl, _, _, input, inputLength, _, _, alert, _ in
                OpenSSLHandshakeSession.parseTransportParametersCallback(
                    ssl: ssl, input: input, inputLength: inputLength, alert: alert)
            },
            nil)
        guard added == 1 else { throw .openSSL("SSL_CTX_add_custom_ext(quic_transport_parameters)") }

        if side == .server {
            SSL_CTX_set_client_hello_cb(context, { ssl, alert, _ in
                OpenSSLHandshakeSession.clientHelloCallback(ssl: ssl, alert: alert)
            }, nil)
            SSL_CTX_set_alpn_select_cb(context, { ssl, out, outLength, input, inputLength, _ in
                OpenSSLHandshakeSession.selectALPNCallback(
                    ssl: ssl, out: out, outLength: outLength, input: input, inputLength: inputLength)
            }, nil)
        }
    }
}

import COpenSSL
import XCTest

@testable import FerryCrypto

/// Post-handshake behaviour: a client must tolerate a NewSessionTicket (quinn and aioquic servers send them,
/// RFC 9001 §4.6.1), and certificate checks reject anything but a self-signed Ed25519 certificate.
final class TLSPostHandshakeTests: XCTestCase {
    let alpn = Array("ferry/1".utf8)

    /// A client and a server session that completed a handshake, and the server's OpenSSL session.
    func makeCompletedHandshake() throws -> (client: any HandshakeSession, serverSession: OpenSSLHandshakeSession) {
        let providers = try TLSProviders(alpn: alpn)
        let client = try providers.makeClientSession()
        let server = try providers.makeServerSession()
        let pair = TLSHandshakePair(client: client, server: server)
        pair.run()
        XCTAssertTrue(pair.clientCompleted && pair.serverCompleted)
        return (client, try XCTUnwrap(server as? OpenSSLHandshakeSession))
    }

    /// The CRYPTO bytes the server queued, all of which must be at the application level.
    func applicationCryptoData(from server: OpenSSLHandshakeSession) throws -> [UInt8] {
        let data = try drainCryptoData(server)
        XCTAssertEqual(Array(data.keys), [.application])
        return data[.application] ?? []
    }

    func testClientAcceptsNewSessionTicketAfterHandshake() throws {
        let (client, serverSession) = try makeCompletedHandshake()
        // Make OpenSSL's server write a ticket, as a peer with tickets enabled would.
        XCTAssertEqual(SSL_new_session_ticket(serverSession.ssl), 1)
        XCTAssertEqual(SSL_do_handshake(serverSession.ssl), 1)
        let ticket = try applicationCryptoData(from: serverSession)
        XCTAssertEqual(ticket.first, 4, "NewSessionTicket")
        try ticket.withUnsafeBytes { try client.receive(cryptoData: $0, level: .application) }
        XCTAssertNil(try client.pollEvent(), "a ticket produces no events")
        XCTAssertTrue(client.isComplete)
    }

    func testClientRejectsTLSKeyUpdate() throws {
        let (client, serverSession) = try makeCompletedHandshake()
        XCTAssertEqual(SSL_key_update(serverSession.ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1)
        XCTAssertEqual(SSL_do_handshake(serverSession.ssl), 1)
        let keyUpdate = try applicationCryptoData(from: serverSession)
        XCTAssertEqual(keyUpdate.first, 24, "KeyUpdate")
        XCTAssertThrowsError(try keyUpdate.withUnsafeBytes { try client.receive(cryptoData: $0, level: .application) }) {
            error in
            XCTAssertEqual((error as? HandshakeError)?.quicErrorCode, 0x10a)
        }
    }

    /// A self-signed X.509 certificate for a fresh P-256 key; the caller frees it.
    func makeP256Certificate() throws -> OpaquePointer {
        let keyContext = try XCTUnwrap(EVP_PKEY_CTX_new_from_name(nil, "EC", nil))
        defer { EVP_PKEY_CTX_free(keyContext) }
        XCTAssertEqual(EVP_PKEY_keygen_init(keyContext), 1)
        XCTAssertEqual(EVP_PKEY_CTX_set_group_name(keyContext, "P-256"), 1)
        var generated: OpaquePointer?
        XCTAssertEqual(EVP_PKEY_generate(keyContext, &generated), 1)
        let key = try XCTUnwrap(generated)
        defer { EVP_PKEY_free(key) }
        let certificate = try XCTUnwrap(X509_new())
        XCTAssertEqual(X509_set_version(certificate, 2), 1)
        XCTAssertNotNil(X509_gmtime_adj(X509_getm_notBefore(certificate), 0))
        XCTAssertNotNil(X509_gmtime_adj(X509_getm_notAfter(certificate), 3600))
        XCTAssertEqual(X509_set_pubkey(certificate, key), 1)
        XCTAssertGreaterThan(X509_sign(certificate, key, EVP_sha256()), 0)
        return certificate
    }

    func testNonEd25519CertificateIsRejected() throws {
        let provider = try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [alpn])
        let server = try XCTUnwrap(
            try provider.makeServerSession(localTransportParameters: []) as? OpenSSLHandshakeSession)
        let certificate = try makeP256Certificate()
        defer { X509_free(certificate) }
        let error = server.verifyPeerCertificate(certificate)
        XCTAssertEqual(error?.alert, HandshakeError.badCertificate)
        XCTAssertNil(server.certifiedPeer)
    }

    func testEd25519CertificateIsAcceptedByServerAndMatchedByClient() throws {
        let peer = EndpointIdentity.generate()
        let der = try peer.makeSelfSignedCertificate()
        let certificate = try XCTUnwrap(der.withUnsafeBufferPointer { bytes -> OpaquePointer? in
            var cursor = bytes.baseAddress
            return d2i_X509(nil, &cursor, bytes.count)
        })
        defer { X509_free(certificate) }
        let provider = try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [alpn])

        let server = try XCTUnwrap(
            try provider.makeServerSession(localTransportParameters: []) as? OpenSSLHandshakeSession)
        XCTAssertNil(server.verifyPeerCertificate(certificate))
        XCTAssertEqual(server.certifiedPeer, peer.id)
        XCTAssertNil(server.peerIdentity, "published only once the handshake completes")

        let client = try XCTUnwrap(
            try provider.makeClientSession(expectedPeer: peer.id, alpns: [alpn], localTransportParameters: [])
                as? OpenSSLHandshakeSession)
        client.peerTransportParameters = []  // as if EncryptedExtensions had carried them
        XCTAssertNil(client.verifyPeerCertificate(certificate))
        XCTAssertEqual(client.certifiedPeer, peer.id)

        let wrongClient = try XCTUnwrap(
            try provider.makeClientSession(
                expectedPeer: EndpointIdentity.generate().id, alpns: [alpn], localTransportParameters: [])
                as? OpenSSLHandshakeSession)
        wrongClient.peerTransportParameters = []
        XCTAssertEqual(wrongClient.verifyPeerCertificate(certificate)?.alert, HandshakeError.badCertificate)
        XCTAssertNil(wrongClient.certifiedPeer)
    }
}

import COpenSSL
import XCTest

@testable import FerryCrypto

/// Less common handshake paths: HelloRetryRequest and peers without QUIC transport parameters.
final class TLSHandshakeEdgeTests: XCTestCase {
    let alpn = Array("ferry/1".utf8)

    /// Splits a CRYPTO stream into handshake message types (RFC 8446 §4: type, 24-bit length, body).
    func messageTypes(_ stream: [UInt8]) -> [UInt8] {
        var types: [UInt8] = []
        var index = 0
        while index + 4 <= stream.count {
            let length = Int(stream[index + 1]) << 16 | Int(stream[index + 2]) << 8 | Int(stream[index + 3])
            types.append(stream[index])
            index += 4 + length
        }
        return types
    }

    func testHelloRetryRequestWhenServerOnlyAcceptsP256() throws {
        let clientIdentity = EndpointIdentity.generate()
        let serverIdentity = EndpointIdentity.generate()
        let clientProvider = try OpenSSLCryptoProvider(identity: clientIdentity, serverALPNs: [])
        // The client's key share is X25519; a P-256-only server must ask again (RFC 8446 §4.1.4).
        let serverProvider = try OpenSSLCryptoProvider(
            identity: serverIdentity, serverALPNs: [alpn], cipherSuites: CipherSuite.allCases,
            keyExchangeGroups: "P-256")
        let client = try clientProvider.makeClientSession(
            expectedPeer: serverIdentity.id, alpns: [alpn], localTransportParameters: [1, 2, 3])
        let server = try serverProvider.makeServerSession(localTransportParameters: [4, 5])
        let pair = TLSHandshakePair(client: client, server: server)
        pair.chunkSize = 50
        pair.run()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertTrue(pair.clientCompleted)
        XCTAssertTrue(pair.serverCompleted)
        // Two ClientHellos and two ServerHellos (the first being the HelloRetryRequest), all at the Initial level.
        XCTAssertEqual(messageTypes(pair.clientSent[.initial] ?? []), [1, 1])
        XCTAssertEqual(messageTypes(pair.serverSent[.initial] ?? []), [2, 2])
        XCTAssertEqual(server.peerTransportParameters, [1, 2, 3])
        XCTAssertEqual(client.peerTransportParameters, [4, 5])
        XCTAssertEqual(server.peerIdentity, clientIdentity.id)
        XCTAssertEqual(client.peerIdentity, serverIdentity.id)
        for level in [EncryptionLevel.handshake, .application] {
            let clientWrite = try XCTUnwrap(pair.clientWriteKeys[level])
            let serverRead = try XCTUnwrap(pair.serverReadKeys[level])
            XCTAssertTrue(try TLSHandshakePair.interoperate(sealer: clientWrite, opener: serverRead, packetNumber: 0))
        }
    }

    func testServerRejectsClientHelloWithoutTransportParameters() throws {
        let providers = try TLSProviders(alpn: alpn)
        let client = try providers.makeClientSession()
        try XCTUnwrap(client as? OpenSSLHandshakeSession).sendsTransportParameters = false
        let server = try providers.makeServerSession()
        let pair = TLSHandshakePair(client: client, server: server)
        pair.run()
        XCTAssertEqual(pair.serverError?.alert, HandshakeError.missingExtension)
        XCTAssertEqual(pair.serverError?.quicErrorCode, 0x16d)
        // OpenSSL 3.0 sends handshake_failure for any ClientHello-callback error; QUIC never carries that TLS alert
        // record, and the session reports the precise missing_extension the callback decided (RFC 9001 §4.8).
        XCTAssertNotNil((server as? OpenSSLHandshakeSession)?.sentAlert)
        XCTAssertNil(pair.serverSent[.initial])
        XCTAssertFalse(pair.clientCompleted)
    }

    func testClientRejectsServerWithoutTransportParameters() throws {
        let providers = try TLSProviders(alpn: alpn)
        let client = try providers.makeClientSession()
        let server = try providers.makeServerSession()
        try XCTUnwrap(server as? OpenSSLHandshakeSession).sendsTransportParameters = false
        let pair = TLSHandshakePair(client: client, server: server)
        pair.run()
        XCTAssertEqual(pair.clientError?.alert, HandshakeError.missingExtension)
        XCTAssertFalse(pair.clientCompleted)
        XCTAssertFalse(pair.serverCompleted)
        XCTAssertNil(pair.clientSent[.handshake], "the client must not send its Finished")
    }

    func testHandshakeWithoutSelectedALPNFailsOnBothSides() throws {
        let providers = try TLSProviders(alpn: alpn)
        // A server that ignores ALPN (SSL_TLSEXT_ERR_NOACK) instead of choosing one.
        SSL_CTX_set_alpn_select_cb(providers.server.serverContext, { _, _, _, _, _, _ in SSL_TLSEXT_ERR_NOACK }, nil)
        let client = try providers.makeClientSession()
        let server = try providers.makeServerSession()
        let pair = TLSHandshakePair(client: client, server: server)
        pair.run()
        XCTAssertEqual(pair.clientError?.alert, HandshakeError.noApplicationProtocol)
        XCTAssertFalse(pair.clientCompleted)
        XCTAssertFalse(client.isComplete)
        XCTAssertNil(client.peerIdentity)
    }

    func testInvalidProviderConfigurationThrows() {
        XCTAssertThrowsError(try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [[]])) { error in
            XCTAssertEqual((error as? HandshakeError)?.alert, HandshakeError.internalError)
        }
        XCTAssertThrowsError(try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [alpn], cipherSuites: [])) {
            error in
            XCTAssertEqual((error as? HandshakeError)?.alert, HandshakeError.internalError)
        }
    }

    func testManySessionsShareOneProvider() throws {
        let providers = try TLSProviders(alpn: alpn)
        for round in 0..<20 {
            let client = try providers.makeClientSession(transportParameters: [UInt8(round)])
            let server = try providers.makeServerSession(transportParameters: [UInt8(round), 0xff])
            let pair = TLSHandshakePair(client: client, server: server)
            pair.run()
            XCTAssertTrue(pair.clientCompleted && pair.serverCompleted, "round \(round)")
            XCTAssertEqual(server.peerTransportParameters, [UInt8(round)])
            XCTAssertEqual(client.peerTransportParameters, [UInt8(round), 0xff])
        }
    }
}

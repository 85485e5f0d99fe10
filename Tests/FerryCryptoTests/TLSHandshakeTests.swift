import CFerryShim
import XCTest

@testable import FerryCrypto

/// End-to-end TLS 1.3 handshakes between two `OpenSSLHandshakeSession`s, in memory (RFC 9001 §4).
final class TLSHandshakeTests: XCTestCase {
    let ferryALPN = Array("ferry/1".utf8)
    let clientParameters: [UInt8] = [0x01, 0x04, 0x80, 0x00, 0x75, 0x30, 0x04, 0x02, 0x44, 0x00] + Array(0..<40)
    let serverParameters: [UInt8] = [0x0f, 0x08] + Array(repeating: 0xab, count: 8) + [0x03, 0x02, 0x45, 0xc0]

    struct Endpoints {
        let clientIdentity: EndpointIdentity
        let serverIdentity: EndpointIdentity
        let clientProvider: OpenSSLCryptoProvider
        let serverProvider: OpenSSLCryptoProvider
    }

    func makeEndpoints(
        serverALPNs: [[UInt8]]? = nil,
        clientSuites: [CipherSuite] = CipherSuite.allCases,
        serverSuites: [CipherSuite] = CipherSuite.allCases
    ) throws -> Endpoints {
        let clientIdentity = EndpointIdentity.generate()
        let serverIdentity = EndpointIdentity.generate()
        return Endpoints(
            clientIdentity: clientIdentity,
            serverIdentity: serverIdentity,
            clientProvider: try OpenSSLCryptoProvider(
                identity: clientIdentity, serverALPNs: [], cipherSuites: clientSuites),
            serverProvider: try OpenSSLCryptoProvider(
                identity: serverIdentity, serverALPNs: serverALPNs ?? [Array("other".utf8), ferryALPN],
                cipherSuites: serverSuites))
    }

    func makePair(
        _ endpoints: Endpoints,
        expectedPeer: EndpointID? = nil,
        alpns: [[UInt8]]? = nil
    ) throws -> TLSHandshakePair {
        let client = try endpoints.clientProvider.makeClientSession(
            expectedPeer: expectedPeer ?? endpoints.serverIdentity.id,
            alpns: alpns ?? [Array("h3".utf8), ferryALPN, Array("other".utf8)],
            localTransportParameters: clientParameters)
        let server = try endpoints.serverProvider.makeServerSession(localTransportParameters: serverParameters)
        return TLSHandshakePair(client: client, server: server)
    }

    /// Checks everything a successful handshake must deliver.
    func assertSuccessfulHandshake(
        _ pair: TLSHandshakePair,
        _ endpoints: Endpoints,
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        XCTAssertNil(pair.clientError, "client: \(String(describing: pair.clientError))", file: file, line: line)
        XCTAssertNil(pair.serverError, "server: \(String(describing: pair.serverError))", file: file, line: line)
        XCTAssertTrue(pair.clientCompleted, file: file, line: line)
        XCTAssertTrue(pair.serverCompleted, file: file, line: line)
        XCTAssertTrue(pair.client.isComplete, file: file, line: line)
        XCTAssertTrue(pair.server.isComplete, file: file, line: line)

        // The server picks the first client-offered protocol it supports: the client offered h3 first (not
        // supported), then ferry/1, then other (supported, but the server's own first preference).
        XCTAssertEqual(pair.client.negotiatedALPN, ferryALPN, file: file, line: line)
        XCTAssertEqual(pair.server.negotiatedALPN, ferryALPN, file: file, line: line)

        XCTAssertEqual(pair.server.peerTransportParameters, clientParameters, file: file, line: line)
        XCTAssertEqual(pair.client.peerTransportParameters, serverParameters, file: file, line: line)

        XCTAssertEqual(pair.server.peerIdentity, endpoints.clientIdentity.id, file: file, line: line)
        XCTAssertEqual(pair.client.peerIdentity, endpoints.serverIdentity.id, file: file, line: line)

        XCTAssertNotNil(pair.client.cipherSuite, file: file, line: line)
        XCTAssertEqual(pair.client.cipherSuite, pair.server.cipherSuite, file: file, line: line)

        for level in [EncryptionLevel.handshake, .application] {
            let clientWrite = try XCTUnwrap(pair.clientWriteKeys[level], "client \(level) write", file: file, line: line)
            let clientRead = try XCTUnwrap(pair.clientReadKeys[level], "client \(level) read", file: file, line: line)
            let serverWrite = try XCTUnwrap(pair.serverWriteKeys[level], "server \(level) write", file: file, line: line)
            let serverRead = try XCTUnwrap(pair.serverReadKeys[level], "server \(level) read", file: file, line: line)
            XCTAssertTrue(
                try TLSHandshakePair.interoperate(sealer: clientWrite, opener: serverRead, packetNumber: 3),
                "client→server \(level)", file: file, line: line)
            XCTAssertTrue(
                try TLSHandshakePair.interoperate(sealer: serverWrite, opener: clientRead, packetNumber: 9),
                "server→client \(level)", file: file, line: line)
            // Different directions use different secrets.
            XCTAssertFalse(
                try TLSHandshakePair.interoperate(sealer: clientWrite, opener: clientRead, packetNumber: 1),
                "\(level) keys must differ per direction", file: file, line: line)
        }
        // TLS never sends Initial keys (they come from the connection ID), and QUIC handshake bytes never use 1-RTT.
        XCTAssertNil(pair.clientWriteKeys[.initial], file: file, line: line)
        XCTAssertNil(pair.serverReadKeys[.initial], file: file, line: line)
        // No session tickets: nothing is sent after the handshake (RFC 9001 §4.6 0-RTT is off).
        XCTAssertNil(pair.serverSent[.application], file: file, line: line)
        XCTAssertNil(pair.clientSent[.application], file: file, line: line)
        // The client's Initial flight is the ClientHello alone; the server's is the ServerHello alone.
        XCTAssertEqual(pair.clientSent[.initial]?.first, 1, "ClientHello", file: file, line: line)
        XCTAssertEqual(pair.serverSent[.initial]?.first, 2, "ServerHello", file: file, line: line)
        XCTAssertEqual(pair.serverSent[.handshake]?.first, 8, "EncryptedExtensions", file: file, line: line)
        // Completion comes after the keys it depends on.
        XCTAssertEqual(pair.clientEventLog.last, "complete", file: file, line: line)
        XCTAssertEqual(pair.serverEventLog.last, "complete", file: file, line: line)
    }

    /// Runs a handshake between default endpoints, delivering CRYPTO data in chunks of at most `chunkSize`
    /// bytes (nil: as produced), and checks that it succeeded.
    @discardableResult
    func runSuccessfulHandshake(chunkSize: Int? = nil, line: UInt = #line) throws -> TLSHandshakePair {
        let endpoints = try makeEndpoints()
        let pair = try makePair(endpoints)
        pair.chunkSize = chunkSize
        pair.run()
        try assertSuccessfulHandshake(pair, endpoints, line: line)
        return pair
    }

    func testHandshakeCompletesWithInteroperableKeys() throws {
        let pair = try runSuccessfulHandshake()
        // The server chose its preferred suite among all three (AES-128-GCM first in OpenSSL's default order).
        XCTAssertEqual(pair.server.cipherSuite, .aes128GCMSHA256)
    }

    func testHandshakeInSevenByteFragments() throws {
        try runSuccessfulHandshake(chunkSize: 7)
    }

    func testHandshakeInOneByteFragments() throws {
        try runSuccessfulHandshake(chunkSize: 1)
    }

    func testEachCipherSuiteCanBeNegotiated() throws {
        for suite in CipherSuite.allCases {
            let endpoints = try makeEndpoints(clientSuites: [suite], serverSuites: CipherSuite.allCases)
            let pair = try makePair(endpoints)
            pair.run()
            try assertSuccessfulHandshake(pair, endpoints)
            XCTAssertEqual(pair.client.cipherSuite, suite)
            XCTAssertEqual(pair.server.cipherSuite, suite)
        }
    }

    func testServerRestrictedSuiteIsNegotiated() throws {
        let endpoints = try makeEndpoints(serverSuites: [.chacha20Poly1305SHA256])
        let pair = try makePair(endpoints)
        pair.run()
        try assertSuccessfulHandshake(pair, endpoints)
        XCTAssertEqual(pair.client.cipherSuite, .chacha20Poly1305SHA256)
    }

    func testNoCommonCipherSuiteFails() throws {
        let endpoints = try makeEndpoints(clientSuites: [.aes256GCMSHA384], serverSuites: [.aes128GCMSHA256])
        let pair = try makePair(endpoints)
        pair.run()
        XCTAssertEqual(pair.serverError?.alert, HandshakeError.handshakeFailure)
        XCTAssertFalse(pair.clientCompleted)
    }

    func testClientRejectsServerWithUnexpectedIdentity() throws {
        let endpoints = try makeEndpoints()
        let impostorTarget = EndpointIdentity.generate().id
        let pair = try makePair(endpoints, expectedPeer: impostorTarget)
        pair.run()
        let error = try XCTUnwrap(pair.clientError)
        XCTAssertEqual(error.alert, HandshakeError.badCertificate)
        XCTAssertEqual(error.quicErrorCode, 0x100 + 42)
        XCTAssertTrue(error.reason.contains(impostorTarget.shortDescription), error.reason)
        // OpenSSL itself sent bad_certificate: the rejection happened inside the verify callback.
        XCTAssertEqual((pair.client as? OpenSSLHandshakeSession)?.sentAlert, HandshakeError.badCertificate)
        XCTAssertFalse(pair.clientCompleted)
        XCTAssertFalse(pair.serverCompleted)
        XCTAssertNil(pair.client.peerIdentity)
        // The client never sent its certificate or Finished: the server saw nothing at the Handshake level.
        XCTAssertNil(pair.clientSent[.handshake])
        XCTAssertNil(pair.clientWriteKeys[.application])
        // Later calls keep reporting the same failure.
        XCTAssertThrowsError(try pair.client.pollEvent()) { thrown in
            XCTAssertEqual(thrown as? HandshakeError, error)
        }
    }

    func testNoCommonALPNFailsWithNoApplicationProtocol() throws {
        let endpoints = try makeEndpoints(serverALPNs: [Array("only-this".utf8)])
        let pair = try makePair(endpoints)
        pair.run()
        let error = try XCTUnwrap(pair.serverError)
        XCTAssertEqual(error.alert, HandshakeError.noApplicationProtocol)
        XCTAssertEqual(error.quicErrorCode, 0x178)
        XCTAssertEqual((pair.server as? OpenSSLHandshakeSession)?.sentAlert, HandshakeError.noApplicationProtocol)
        XCTAssertFalse(pair.clientCompleted)
        XCTAssertFalse(pair.serverCompleted)
        XCTAssertNil(pair.serverSent[.initial], "the server must not answer with a ServerHello")
    }

    func testClientMustOfferALPN() throws {
        let endpoints = try makeEndpoints()
        XCTAssertThrowsError(
            try endpoints.clientProvider.makeClientSession(
                expectedPeer: endpoints.serverIdentity.id, alpns: [], localTransportParameters: clientParameters)
        ) { error in
            XCTAssertEqual((error as? HandshakeError)?.alert, HandshakeError.noApplicationProtocol)
        }
    }

    func testEmptyTransportParametersAreDelivered() throws {
        let endpoints = try makeEndpoints()
        let client = try endpoints.clientProvider.makeClientSession(
            expectedPeer: endpoints.serverIdentity.id, alpns: [ferryALPN], localTransportParameters: [])
        let server = try endpoints.serverProvider.makeServerSession(localTransportParameters: serverParameters)
        let pair = TLSHandshakePair(client: client, server: server)
        pair.run()
        XCTAssertNil(pair.serverError)
        XCTAssertTrue(pair.serverCompleted)
        XCTAssertEqual(server.peerTransportParameters, [])
        XCTAssertEqual(client.peerTransportParameters, serverParameters)
    }

    func testCryptoDataAtWrongLevelIsRejected() throws {
        let endpoints = try makeEndpoints()
        let server = try endpoints.serverProvider.makeServerSession(localTransportParameters: serverParameters)
        let garbage: [UInt8] = [1, 2, 3, 4]
        XCTAssertThrowsError(
            try garbage.withUnsafeBytes { try server.receive(cryptoData: $0, level: .handshake) }
        ) { error in
            XCTAssertEqual((error as? HandshakeError)?.alert, HandshakeError.unexpectedMessage)
        }
    }

    func testGarbageClientHelloFailsWithAlert() throws {
        let endpoints = try makeEndpoints()
        let server = try endpoints.serverProvider.makeServerSession(localTransportParameters: serverParameters)
        // A ClientHello header claiming 6 bytes, then nonsense.
        let garbage: [UInt8] = [1, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        XCTAssertThrowsError(try garbage.withUnsafeBytes { try server.receive(cryptoData: $0, level: .initial) }) {
            error in
            let handshakeError = error as? HandshakeError
            XCTAssertNotNil(handshakeError)
            XCTAssertNotEqual(handshakeError?.alert, 0)
            XCTAssertFalse(handshakeError?.reason.isEmpty ?? true)
        }
    }

    func testContextsUseQUICProfile() throws {
        let endpoints = try makeEndpoints()
        for context in [endpoints.clientProvider.clientContext, endpoints.serverProvider.serverContext] {
            XCTAssertEqual(ferry_SSL_CTX_has_middlebox_compat(context), 0)
            XCTAssertEqual(ferry_SSL_CTX_has_no_ticket(context), 1)
        }
    }

    func testSessionsAreReleased() throws {
        let endpoints = try makeEndpoints()
        weak var weakClient: AnyObject?
        weak var weakServer: AnyObject?
        do {
            let pair = try makePair(endpoints)
            pair.run()
            try assertSuccessfulHandshake(pair, endpoints)
            weakClient = pair.client
            weakServer = pair.server
        }
        XCTAssertNil(weakClient)
        XCTAssertNil(weakServer)
    }

    func testInitialKeysComeFromPacketProtection() throws {
        let endpoints = try makeEndpoints()
        let connectionID: [UInt8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]
        let client = try endpoints.clientProvider.makeInitialKeys(destinationConnectionID: connectionID, side: .client)
        let server = try endpoints.serverProvider.makeInitialKeys(destinationConnectionID: connectionID, side: .server)
        XCTAssertTrue(try TLSHandshakePair.interoperate(sealer: client.local, opener: server.remote, packetNumber: 2))
        XCTAssertTrue(try TLSHandshakePair.interoperate(sealer: server.local, opener: client.remote, packetNumber: 1))
    }
}

import COpenSSL
import XCTest

@testable import FerryCrypto

/// Two stream sessions wired together in memory: ciphertext from one is fed to the other until neither has
/// anything more to send. Each side's decrypted bytes and failure are collected.
final class TLSStreamPair {
    let clientIdentity: EndpointIdentity
    let serverIdentity: EndpointIdentity
    let client: TLSStreamSession
    let server: TLSStreamSession
    private(set) var clientReceived: [UInt8] = []
    private(set) var serverReceived: [UInt8] = []
    private(set) var clientError: HandshakeError?
    private(set) var serverError: HandshakeError?
    /// Deliver ciphertext in pieces of at most this many bytes (nil: as produced).
    var chunkSize: Int?

    init(
        clientALPN: String = "ferry-relay/1",
        serverALPN: String = "ferry-relay/1",
        expectedPeer: EndpointID? = nil,
        serverIdentity: EndpointIdentity = .generate()
    ) throws {
        clientIdentity = .generate()
        self.serverIdentity = serverIdentity
        client = try TLSStreamSession(
            identity: clientIdentity, role: .client(expectedPeer: expectedPeer ?? serverIdentity.id), alpn: clientALPN)
        server = try TLSStreamSession(identity: serverIdentity, role: .server, alpn: serverALPN)
    }

    /// Starts the client and moves bytes until both sides are idle. A side that failed still sends its alert.
    func run() {
        do {
            try client.start()
        } catch {
            clientError = error
        }
        var rounds = 0
        while rounds < 10_000 {
            rounds += 1
            let toServer = client.takeCiphertext()
            let toClient = server.takeCiphertext()
            deliver(toServer, to: server, error: &serverError)
            deliver(toClient, to: client, error: &clientError)
            serverReceived += Self.drainPlaintext(server)
            clientReceived += Self.drainPlaintext(client)
            if toServer.isEmpty && toClient.isEmpty { break }
        }
    }

    private func deliver(_ bytes: [UInt8], to session: TLSStreamSession, error: inout HandshakeError?) {
        guard !bytes.isEmpty, error == nil else { return }
        var start = 0
        while start < bytes.count {
            let end = min(start + (chunkSize ?? bytes.count), bytes.count)
            do {
                try session.receive(Array(bytes[start..<end]))
            } catch let failure {
                error = failure
                return
            }
            start = end
        }
    }

    /// Every plaintext byte `session` has, taking until it returns nothing (the documented caller loop).
    static func drainPlaintext(_ session: TLSStreamSession) -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let chunk = session.takePlaintext()
            XCTAssertLessThanOrEqual(chunk.count, TLSStreamSession.plaintextBufferLimit)
            if chunk.isEmpty { return all }
            all += chunk
        }
    }
}

/// `TLSStreamSession`: ordinary TLS 1.3 over a byte stream with Ferry's mutual Ed25519 authentication.
final class TLSStreamSessionTests: XCTestCase {
    func testHandshakeCompletesAndBothSidesLearnThePeerID() throws {
        let pair = try TLSStreamPair()
        XCTAssertNil(pair.client.peerID)
        pair.run()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertTrue(pair.client.isHandshakeComplete)
        XCTAssertTrue(pair.server.isHandshakeComplete)
        XCTAssertEqual(pair.client.peerID, pair.serverIdentity.id)
        XCTAssertEqual(pair.server.peerID, pair.clientIdentity.id)
        XCTAssertEqual(SSL_version(pair.client.ssl), TLS1_3_VERSION)
        XCTAssertFalse(pair.client.isClosedByPeer)
        XCTAssertFalse(pair.server.isClosedByPeer)
    }

    func testTheClientHelloIsOrdinaryTLSWithoutQUICTransportParameters() throws {
        let session = try TLSStreamSession(
            identity: .generate(), role: .client(expectedPeer: EndpointIdentity.generate().id), alpn: "x")
        try session.start()
        try session.start()  // no second ClientHello
        let record = session.takeCiphertext()
        XCTAssertTrue(session.takeCiphertext().isEmpty)
        let hello = try XCTUnwrap(ClientHelloSummary(record: record))
        XCTAssertEqual(hello.legacySessionIDLength, 32, "middlebox compatibility mode (RFC 8446 Appendix D.4)")
        XCTAssertTrue(hello.extensionTypes.contains(16), "application_layer_protocol_negotiation")
        XCTAssertTrue(hello.extensionTypes.contains(43), "supported_versions")
        XCTAssertFalse(hello.extensionTypes.contains(0x39), "no quic_transport_parameters (RFC 9001 §8.2)")
        XCTAssertFalse(hello.extensionTypes.contains(42), "no early_data")

        let server = try TLSStreamSession(identity: .generate(), role: .server, alpn: "x")
        try server.start()
        XCTAssertTrue(server.takeCiphertext().isEmpty, "a server waits for the ClientHello")
    }

    func testApplicationDataFlowsBothWays() throws {
        let pair = try TLSStreamPair()
        pair.run()
        try pair.client.write(Array("ping".utf8))
        try pair.server.write(Array("pong".utf8))
        pair.run()
        XCTAssertEqual(pair.serverReceived, Array("ping".utf8))
        XCTAssertEqual(pair.clientReceived, Array("pong".utf8))
    }

    func testOneMebibyteInChunksArrivesIntactBothWays() throws {
        let pair = try TLSStreamPair()
        pair.chunkSize = 1_000  // records split across receive calls
        pair.run()
        var generator = SplitMix64(seed: 1)
        let upload = (0..<1 << 20).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let download = upload.reversed().map { $0 ^ 0x5a }
        var offset = 0
        var chunk = 1
        while offset < upload.count {
            let end = min(offset + chunk, upload.count)
            try pair.client.write(Array(upload[offset..<end]))
            try pair.server.write(Array(download[offset..<end]))
            if offset / 65_536 != end / 65_536 { pair.run() }
            offset = end
            chunk = chunk * 3 % 40_000 + 1  // 1 byte up to ~40 KiB, crossing record boundaries
        }
        pair.run()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertEqual(pair.serverReceived.count, upload.count)
        XCTAssertTrue(pair.serverReceived == upload)
        XCTAssertEqual(pair.clientReceived.count, download.count)
        XCTAssertTrue(pair.clientReceived == download)
    }

    func testAPeerKeyUpdateIsFollowed() throws {
        // Long-lived relay connections may see KeyUpdate (RFC 8446 §4.6.3), which ordinary TLS allows.
        let pair = try TLSStreamPair()
        pair.run()
        XCTAssertEqual(SSL_key_update(pair.client.ssl, SSL_KEY_UPDATE_REQUESTED), 1)
        XCTAssertEqual(SSL_get_key_update_type(pair.client.ssl), SSL_KEY_UPDATE_REQUESTED)
        try pair.client.write(Array("after update".utf8))
        XCTAssertEqual(SSL_get_key_update_type(pair.client.ssl), SSL_KEY_UPDATE_NONE, "sent with the write")
        pair.run()
        try pair.server.write(Array("answer".utf8))
        pair.run()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertEqual(pair.serverReceived, Array("after update".utf8))
        XCTAssertEqual(pair.clientReceived, Array("answer".utf8))
    }

    func testDecryptedDataWaitingForTheCallerIsBounded() throws {
        let pair = try TLSStreamPair()
        pair.run()
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try pair.client.write(payload)
        let ciphertext = pair.client.takeCiphertext()
        XCTAssertGreaterThan(ciphertext.count, payload.count)
        try pair.server.receive(ciphertext)
        var received: [UInt8] = []
        var takes = 0
        while true {
            let chunk = pair.server.takePlaintext()
            if chunk.isEmpty { break }
            XCTAssertLessThanOrEqual(chunk.count, TLSStreamSession.plaintextBufferLimit)
            received += chunk
            takes += 1
        }
        XCTAssertEqual(takes, payload.count / TLSStreamSession.plaintextBufferLimit)
        XCTAssertTrue(received == payload)
        XCTAssertNil(pair.server.failure)
    }

    func testWritesBeforeTheHandshakeCompletesAreSentAfterIt() throws {
        let pair = try TLSStreamPair()
        try pair.client.write(Array("early".utf8))
        try pair.server.write(Array("hello".utf8))
        try pair.client.write(Array(" bird".utf8))
        pair.run()
        XCTAssertEqual(pair.serverReceived, Array("early bird".utf8))
        XCTAssertEqual(pair.clientReceived, Array("hello".utf8))
    }

    func testAClientExpectingAnotherIDFailsWithBadCertificate() throws {
        let impostorTarget = EndpointIdentity.generate().id
        let pair = try TLSStreamPair(expectedPeer: impostorTarget)
        pair.run()
        let clientError = try XCTUnwrap(pair.clientError)
        XCTAssertEqual(clientError.alert, HandshakeError.badCertificate)
        XCTAssertTrue(clientError.reason.contains(impostorTarget.shortDescription), clientError.reason)
        XCTAssertTrue(clientError.reason.contains(pair.serverIdentity.id.shortDescription), clientError.reason)
        XCTAssertEqual(pair.client.failure, clientError)
        XCTAssertNil(pair.client.peerID)
        let serverError = try XCTUnwrap(pair.serverError, "the server sees the client's alert")
        XCTAssertEqual(serverError.alert, HandshakeError.badCertificate)
        XCTAssertTrue(serverError.reason.contains("the peer sent alert bad_certificate"), serverError.reason)
        XCTAssertFalse(pair.server.isHandshakeComplete)
        // The failure is sticky.
        XCTAssertThrowsError(try pair.client.receive([1, 2, 3]))
        XCTAssertThrowsError(try pair.client.write([1]))
    }

    func testMismatchedALPNFailsWithNoApplicationProtocol() throws {
        let pair = try TLSStreamPair(clientALPN: "ferry-relay/2", serverALPN: "ferry-relay/1")
        pair.run()
        let serverError = try XCTUnwrap(pair.serverError)
        XCTAssertEqual(serverError.alert, HandshakeError.noApplicationProtocol)
        XCTAssertTrue(serverError.reason.contains("ferry-relay/2"), serverError.reason)
        let clientError = try XCTUnwrap(pair.clientError)
        XCTAssertEqual(clientError.alert, HandshakeError.noApplicationProtocol, clientError.reason)
    }

    func testAServerRefusesAClientHelloWithoutALPN() throws {
        let pair = try TLSStreamPair()
        XCTAssertEqual(SSL_set_alpn_protos(pair.client.ssl, nil, 0), 0)
        pair.run()
        let serverError = try XCTUnwrap(pair.serverError)
        XCTAssertEqual(serverError.alert, HandshakeError.noApplicationProtocol)
        XCTAssertEqual(pair.clientError?.alert, HandshakeError.noApplicationProtocol)
    }

    func testAServerRejectsAClientWithoutACertificate() throws {
        let pair = try TLSStreamPair()
        SSL_certs_clear(pair.client.ssl)
        pair.run()
        let serverError = try XCTUnwrap(pair.serverError)
        XCTAssertEqual(serverError.alert, 116, "certificate_required (RFC 8446 §4.4.2.4): \(serverError.reason)")
        XCTAssertNil(pair.server.peerID)
        // The client finished its side before the server judged its certificate (RFC 8446 §4.4.2.4); the alert
        // still reaches it.
        XCTAssertTrue(pair.client.isHandshakeComplete)
        let clientError = try XCTUnwrap(pair.clientError)
        XCTAssertEqual(clientError.alert, 116, clientError.reason)
    }

    func testInvalidALPNIsRefusedAtInit() {
        for alpn in ["", String(repeating: "a", count: 256)] {
            XCTAssertThrowsError(try TLSStreamSession(identity: .generate(), role: .server, alpn: alpn)) { error in
                XCTAssertEqual((error as? HandshakeError)?.alert, HandshakeError.internalError)
            }
        }
    }

    func testCloseNotifyIsSeenByThePeerAfterTheData() throws {
        let pair = try TLSStreamPair()
        pair.run()
        try pair.client.write(Array("last words".utf8))
        pair.client.close()
        pair.client.close()
        XCTAssertThrowsError(try pair.client.write([1]))
        pair.run()
        XCTAssertEqual(pair.serverReceived, Array("last words".utf8))
        XCTAssertTrue(pair.server.isClosedByPeer)
        XCTAssertFalse(pair.client.isClosedByPeer)
        XCTAssertNil(pair.serverError)
        // Half-close: the server can still answer, then close too.
        try pair.server.write(Array("reply".utf8))
        pair.server.close()
        pair.run()
        XCTAssertEqual(pair.clientReceived, Array("reply".utf8))
        XCTAssertTrue(pair.client.isClosedByPeer)
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        // Bytes after close_notify are ignored.
        XCTAssertNoThrow(try pair.server.receive([23, 3, 3, 0, 1, 0]))
        XCTAssertTrue(pair.server.takePlaintext().isEmpty)
    }

    func testCloseBeforeTheHandshakeCompletesWaitsForIt() throws {
        let pair = try TLSStreamPair()
        try pair.client.write(Array("bye".utf8))
        pair.client.close()
        pair.run()
        XCTAssertTrue(pair.client.isHandshakeComplete)
        XCTAssertEqual(pair.serverReceived, Array("bye".utf8))
        XCTAssertTrue(pair.server.isClosedByPeer)
    }
}

/// The parts of a ClientHello record the tests check (RFC 8446 §4.1.2), parsed from a single plaintext record.
struct ClientHelloSummary {
    var legacySessionIDLength = 0
    var extensionTypes: [UInt16] = []

    init?(record: [UInt8]) {
        var reader = record[...]
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard reader.count >= count else { return nil }
            defer { reader = reader.dropFirst(count) }
            return reader.prefix(count)
        }
        func number(_ count: Int) -> Int? { take(count)?.reduce(0) { $0 << 8 | Int($1) } }
        guard number(1) == 22, take(4) != nil, number(1) == 1, take(3) != nil,  // record, handshake header
            take(2 + 32) != nil,  // legacy_version, random
            let sessionIDLength = number(1), take(sessionIDLength) != nil,
            let suitesLength = number(2), take(suitesLength) != nil,
            let compressionLength = number(1), take(compressionLength) != nil,
            let extensionsLength = number(2), reader.count == extensionsLength
        else { return nil }
        legacySessionIDLength = sessionIDLength
        while !reader.isEmpty {
            guard let type = number(2), let length = number(2), take(length) != nil else { return nil }
            extensionTypes.append(UInt16(type))
        }
    }
}

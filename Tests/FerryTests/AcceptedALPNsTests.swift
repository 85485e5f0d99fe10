import Ferry
import XCTest

/// The live ALPN list the TLS provider consults per server session (RFC 7301; RFC 9001 §8.1).
final class AcceptedALPNsTests: XCTestCase {
    private static func bytes(_ name: String) -> [UInt8] { Array(name.utf8) }

    func testValidationOrderAndDuplicates() throws {
        let accepted = try AcceptedALPNs(names: ["a/1", "b/1", "a/1"])
        XCTAssertEqual(accepted.protocols, [Self.bytes("a/1"), Self.bytes("b/1")])
        XCTAssertTrue(try accepted.insert(Self.bytes("c/1")))
        XCTAssertFalse(try accepted.insert(Self.bytes("a/1")), "already accepted: preference unchanged")
        XCTAssertEqual(accepted.protocols.map { String(decoding: $0, as: UTF8.self) }, ["a/1", "b/1", "c/1"])
        XCTAssertTrue(accepted.remove(Self.bytes("b/1")))
        XCTAssertFalse(accepted.remove(Self.bytes("b/1")))
        XCTAssertFalse(accepted.contains(Self.bytes("b/1")))

        XCTAssertThrowsError(try accepted.insert([])) { XCTAssertEqual($0 as? ALPNError, .emptyProtocolID) }
        XCTAssertThrowsError(try accepted.insert([UInt8](repeating: 0x61, count: 256))) {
            XCTAssertEqual($0 as? ALPNError, .protocolIDTooLong(length: 256))
        }
        XCTAssertNoThrow(try accepted.insert([UInt8](repeating: 0x61, count: 255)), "255 bytes is the limit")
        XCTAssertThrowsError(try AcceptedALPNs([Self.bytes("ok"), []])) { XCTAssertEqual($0 as? ALPNError, .emptyProtocolID) }
        // A replacement with a bad id changes nothing.
        let before = accepted.protocols
        XCTAssertThrowsError(try accepted.replace(with: [Self.bytes("z/1"), []]))
        XCTAssertEqual(accepted.protocols, before)
        try accepted.replace(with: [Self.bytes("z/1")])
        XCTAssertEqual(accepted.protocols, [Self.bytes("z/1")])
    }

    /// Sessions created on several threads while the list changes always see a whole list.
    func testConcurrentEditsAndSnapshots() async throws {
        let accepted = try AcceptedALPNs(names: ["base"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for round in 0..<2000 {
                    let id = Array("p/\(round % 7)".utf8)
                    _ = try? accepted.insert(id)
                    accepted.remove(id)
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    for _ in 0..<2000 {
                        let snapshot = accepted.protocols
                        XCTAssertEqual(snapshot.first, Array("base".utf8))
                        XCTAssertLessThanOrEqual(snapshot.count, 2)
                    }
                }
            }
        }
        XCTAssertEqual(accepted.protocols, [Array("base".utf8)])
    }

    /// A server session keeps the list it was created with; the next session sees the change.
    func testHandshakeInFlightKeepsItsListAndTheNextOneSeesTheChange() throws {
        let accepted = try AcceptedALPNs(names: ["x/1"])
        let server = try OpenSSLCryptoProvider(identity: .generate(), acceptedALPNs: accepted)
        let client = try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [])
        let serverID = server.identity.id
        func pair() throws -> (client: any HandshakeSession, server: any HandshakeSession) {
            (
                try client.makeClientSession(expectedPeer: serverID, alpns: [Self.bytes("x/1")], localTransportParameters: [0x01, 0x00]),
                try server.makeServerSession(localTransportParameters: [0x01, 0x00])
            )
        }
        let inFlight = try pair()
        accepted.remove(Self.bytes("x/1"))
        XCTAssertEqual(server.serverALPNs, [])
        try Self.run(inFlight.client, inFlight.server)
        XCTAssertTrue(inFlight.server.isComplete, "the session created before the removal still accepts x/1")
        XCTAssertEqual(inFlight.server.negotiatedALPN, Self.bytes("x/1"))

        let next = try pair()
        XCTAssertThrowsError(try Self.run(next.client, next.server)) { error in
            XCTAssertEqual((error as? HandshakeError)?.alert, HandshakeError.noApplicationProtocol)
            XCTAssertEqual((error as? HandshakeError)?.quicErrorCode, 0x0178)
        }
        try accepted.insert(Self.bytes("x/1"))
        let reopened = try pair()
        try Self.run(reopened.client, reopened.server)
        XCTAssertTrue(reopened.server.isComplete)
    }

    /// Moves CRYPTO bytes between the two sessions until neither has anything more; the first failure throws.
    private static func run(_ client: any HandshakeSession, _ server: any HandshakeSession) throws {
        for _ in 0..<20 {
            let toServer = try drain(client)
            let toClient = try drain(server)
            if toServer.isEmpty, toClient.isEmpty { return }
            for (bytes, level) in toServer { try bytes.withUnsafeBytes { try server.receive(cryptoData: $0, level: level) } }
            for (bytes, level) in toClient { try bytes.withUnsafeBytes { try client.receive(cryptoData: $0, level: level) } }
        }
    }

    private static func drain(_ session: any HandshakeSession) throws -> [([UInt8], EncryptionLevel)] {
        var out: [([UInt8], EncryptionLevel)] = []
        while let event = try session.pollEvent() {
            if case .cryptoData(let bytes, let level) = event { out.append((bytes, level)) }
        }
        return out
    }
}

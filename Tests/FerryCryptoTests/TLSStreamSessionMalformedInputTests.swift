import XCTest

@testable import FerryCrypto

/// `TLSStreamSession` takes bytes straight from a TCP connection: whatever arrives, it throws a typed
/// `HandshakeError` or takes the bytes; it never traps.
final class TLSStreamSessionMalformedInputTests: XCTestCase {
    /// Feeds `bytes` to `session` in one call; the error, or nil when the session took them.
    func failure(receiving bytes: [UInt8], in session: TLSStreamSession) -> HandshakeError? {
        do {
            try session.receive(bytes)
            _ = TLSStreamPair.drainPlaintext(session)
            return session.failure
        } catch {
            XCTAssertEqual(session.failure, error, "the failure is kept")
            return error
        }
    }

    func testAServerReceivingGarbageThrows() throws {
        let garbage: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\nHost: relay\r\n\r\n".utf8),
            [0x16, 0x03, 0x01, 0xff, 0xff] + Array(repeating: 0, count: 70_000),  // oversized record
            [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00],  // empty ClientHello
            [0x17, 0x03, 0x03, 0x00, 0x20] + Array(repeating: 0xaa, count: 32),  // application data first
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],  // a fatal alert
            Array(repeating: 0, count: 64),
        ]
        for bytes in garbage {
            let server = try TLSStreamSession(identity: .generate(), role: .server, alpn: "x")
            let error = try XCTUnwrap(failure(receiving: bytes, in: server), "\(bytes.prefix(8))")
            XCTAssertFalse(error.reason.isEmpty)
            XCTAssertFalse(server.isHandshakeComplete)
            XCTAssertNil(server.peerID)
            XCTAssertEqual(failure(receiving: [1], in: server), error, "sticky")
        }
    }

    func testAPeerAlertIsReportedWithItsDescription() throws {
        let client = try TLSStreamSession(
            identity: .generate(), role: .client(expectedPeer: EndpointIdentity.generate().id), alpn: "x")
        try client.start()
        _ = client.takeCiphertext()
        // What a server that refuses the ClientHello sends: a plaintext fatal handshake_failure alert.
        let error = try XCTUnwrap(failure(receiving: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], in: client))
        XCTAssertEqual(error.alert, HandshakeError.handshakeFailure, error.reason)
        XCTAssertTrue(error.reason.contains("the peer sent alert handshake_failure"), error.reason)
        XCTAssertTrue(client.takeCiphertext().isEmpty, "no alert answers a fatal alert")
    }

    func testRandomBytesNeverTrap() throws {
        var generator = SplitMix64(seed: 0xfe77)
        for round in 0..<300 {
            let length = Int(generator.next() % 600)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if round % 3 == 0, bytes.count >= 5 {
                bytes[0] = [20, 21, 22, 23][Int(generator.next() % 4)]
                bytes[1] = 3
                bytes[2] = 3
                bytes[3] = UInt8((bytes.count - 5) >> 8)
                bytes[4] = UInt8(truncatingIfNeeded: bytes.count - 5)
            }
            let server = try TLSStreamSession(identity: .generate(), role: .server, alpn: "x")
            _ = failure(receiving: bytes, in: server)
        }
    }

    func testCorruptedHandshakeFlightsFailCleanly() throws {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<40 {
            let pair = try TLSStreamPair()
            try pair.client.start()
            var hello = pair.client.takeCiphertext()
            let index = Int(generator.next() % UInt64(hello.count))
            hello[index] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
            if let error = failure(receiving: hello, in: pair.server) {
                XCTAssertNotEqual(error.reason, "")
                continue
            }
            // A flipped byte the server tolerated (e.g. inside the random): the client's checks decide.
            let flight = pair.server.takeCiphertext()
            var corrupted = flight
            let flightIndex = Int(generator.next() % UInt64(flight.count))
            corrupted[flightIndex] ^= 0x01
            _ = failure(receiving: corrupted, in: pair.client)
            XCTAssertFalse(pair.client.isHandshakeComplete && pair.client.peerID != pair.serverIdentity.id)
        }
    }

    func testGarbageAfterTheHandshakeIsABadRecord() throws {
        let pair = try TLSStreamPair()
        pair.run()
        XCTAssertTrue(pair.server.isHandshakeComplete)
        try pair.client.write(Array("genuine".utf8))
        var record = pair.client.takeCiphertext()
        record[record.count - 3] ^= 0x80
        let error = try XCTUnwrap(failure(receiving: record, in: pair.server))
        XCTAssertEqual(error.alert, 20, "bad_record_mac (RFC 8446 §5.2): \(error.reason)")
        XCTAssertTrue(pair.server.takePlaintext().isEmpty)
        let alert = pair.server.takeCiphertext()
        XCTAssertFalse(alert.isEmpty, "the server's alert is queued for the client")
        XCTAssertEqual(failure(receiving: alert, in: pair.client)?.alert, 20)
    }

    func testAFailureFoundWhileTakingQueuedRecordsIsKept() throws {
        let pair = try TLSStreamPair()
        pair.run()
        let payload = [UInt8](repeating: 7, count: 2 * TLSStreamSession.plaintextBufferLimit)
        try pair.client.write(payload)
        var ciphertext = pair.client.takeCiphertext()
        ciphertext[ciphertext.count - 1] ^= 0x01  // the last record is corrupted
        try pair.server.receive(ciphertext)  // the first records fill the buffer; the bad one waits
        var received: [UInt8] = []
        while true {
            let chunk = pair.server.takePlaintext()
            if chunk.isEmpty { break }
            received += chunk
        }
        XCTAssertLessThan(received.count, payload.count)
        XCTAssertTrue(received.allSatisfy { $0 == 7 })
        XCTAssertEqual(pair.server.failure?.alert, 20)
        XCTAssertThrowsError(try pair.server.receive([]))
    }
}

/// A small deterministic generator, so a failing input can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

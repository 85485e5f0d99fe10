import XCTest

@testable import FerryCrypto

/// Corrupted handshake bytes from the network must end in a `HandshakeError`, never a crash or a completed
/// handshake with the wrong transcript.
final class TLSMalformedInputTests: XCTestCase {
    let alpn = Array("ferry/1".utf8)

    func testRandomBytesAtInitialLevelFailCleanly() throws {
        let provider = try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [alpn])
        var generator = SystemRandomNumberGenerator()
        for length in [1, 4, 5, 64, 300, 20_000] {
            let server = try provider.makeServerSession(localTransportParameters: [])
            var garbage = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            garbage[0] = 1  // a ClientHello type byte, so the parser goes further than the first byte
            do {
                try garbage.withUnsafeBytes { try server.receive(cryptoData: $0, level: .initial) }
                // Accepted as a prefix: the claimed length is longer than what arrived; nothing was sent.
                XCTAssertNil(try server.pollEvent(), "length \(length)")
            } catch let error as HandshakeError {
                XCTAssertNotEqual(error.alert, 0)
            } catch {
                XCTFail("unexpected \(error)")
            }
            XCTAssertFalse(server.isComplete)
        }
    }

    func testMutatedClientHelloNeverCrashesTheServer() throws {
        let providers = try TLSProviders(alpn: alpn)
        let client = try providers.makeClientSession(transportParameters: [1, 2, 3])
        let clientHello = try XCTUnwrap(try drainCryptoData(client)[.initial])
        var failures = 0
        for position in stride(from: 0, to: clientHello.count, by: 3) {
            var mutated = clientHello
            mutated[position] ^= 0x5a
            let server = try providers.makeServerSession(transportParameters: [])
            if let error = handshakeError(receiving: mutated, at: .initial, in: server) {
                failures += 1
                XCTAssertNotEqual(error.alert, 0)
                XCTAssertFalse(error.reason.isEmpty)
            }
            XCTAssertFalse(server.isComplete)
        }
        XCTAssertGreaterThan(failures, 0)
    }

    func testMutatedServerFlightNeverCompletesTheClient() throws {
        let providers = try TLSProviders(alpn: alpn)
        var position = 0
        var failures = 0
        while true {
            let client = try providers.makeClientSession(transportParameters: [1, 2, 3])
            let server = try providers.makeServerSession(transportParameters: [4, 5])
            let clientHello = try XCTUnwrap(try drainCryptoData(client)[.initial])
            try clientHello.withUnsafeBytes { try server.receive(cryptoData: $0, level: .initial) }
            let serverFlight = try drainCryptoData(server)
            let serverHello = try XCTUnwrap(serverFlight[.initial])
            var encrypted = try XCTUnwrap(serverFlight[.handshake])
            guard position < encrypted.count else { break }
            try serverHello.withUnsafeBytes { try client.receive(cryptoData: $0, level: .initial) }
            _ = try drainCryptoData(client)
            encrypted[position] ^= 0x21
            if let error = handshakeError(receiving: encrypted, at: .handshake, in: client) {
                failures += 1
                XCTAssertNotEqual(error.alert, 0)
            }
            // Every byte is covered by the transcript, so a corrupted flight can never complete.
            XCTAssertFalse(client.isComplete, "mutation at \(position)")
            position += 37
        }
        XCTAssertGreaterThan(failures, 0)
    }
}

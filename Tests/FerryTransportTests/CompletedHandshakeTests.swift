import FerryCrypto
import FerryTestSupport
import XCTest

@testable import FerryTransport

/// A server frees its TLS session once the handshake is confirmed (CompletedHandshake): what the handshake
/// established stays available, and a TLS message after it is a crypto error (RFC 9001 §6).
final class CompletedHandshakeTests: XCTestCase {
    func testTheServerKeepsTheResultsAndDropsTheSession() throws {
        let probe = try ViolationProbe()
        let server = try probe.connection(.server)
        let client = try probe.connection(.client)
        XCTAssertTrue(server.handshake is CompletedHandshake, "the server's TLS session is released")
        XCTAssertFalse(client.handshake is CompletedHandshake, "a client keeps its session (NewSessionTicket)")
        XCTAssertNotNil(server.peerIdentity)
        XCTAssertEqual(server.negotiatedALPN, client.negotiatedALPN)
        XCTAssertNotNil(server.handshake.cipherSuite)
    }

    func testCryptoDataAfterConfirmationClosesTheServerWithACryptoError() throws {
        let probe = try ViolationProbe()
        // A CRYPTO frame at 1-RTT (offset 0, one byte): a TLS message the server can no longer take.
        let reason = try probe.receiverCloseReason(afterSending: [0x06, 0x00, 0x01, 0x04], from: .client)
        guard case .tlsFailure(let alert, let text, .local)? = reason else {
            return XCTFail("expected a TLS failure, got \(String(describing: reason))")
        }
        XCTAssertEqual(alert, HandshakeError.unexpectedMessage)
        XCTAssertTrue(text.contains("after the handshake was confirmed"), text)
    }
}

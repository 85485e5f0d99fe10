import XCTest
import FerryTestSupport
@testable import FerryTransport

final class HandshakeTests: XCTestCase {
    func testHandshakeCompletesOnBothSides() throws {
        let network = SimulatedNetwork()
        let handle = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.events(of: .client).contains(.handshakeCompleted)
                && network.events(of: .server).contains(.handshakeCompleted)
        }, timeLimit: .seconds(5)))
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertTrue(client.isHandshakeComplete)
        XCTAssertEqual(client.peerIdentity, SimulatedNetwork.testServerIdentity)
        XCTAssertEqual(client.negotiatedALPN, Array("test".utf8))
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertEqual(server.peerIdentity, SimulatedNetwork.testClientIdentity)
        XCTAssertEqual(server.negotiatedALPN, Array("test".utf8))
        // The client confirms via HANDSHAKE_DONE (RFC 9001 §4.1.2).
        XCTAssertTrue(network.run(until: { client.isHandshakeConfirmed }, timeLimit: .seconds(1)))
        XCTAssertTrue(server.isHandshakeConfirmed)
    }
}


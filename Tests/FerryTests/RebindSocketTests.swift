@testable import Ferry
import XCTest

/// `Endpoint.rebind` gives the new socket the first one's receive options (RFC 9000 §9.2 migration over a real
/// socket): UDP GRO where the kernel has it, and ECN reporting (RFC 9000 §13.4.1).
final class RebindSocketTests: XCTestCase {
    func testReboundSocketReceivesWithGROAndECNLikeTheFirst() async throws {
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client]) {
            try await withTimeout(10) {
                let first = await client.currentSocketReceiveOptions()
                XCTAssertTrue(first.isECNEnabled)
                XCTAssertEqual(first.isGROEnabled, first.isGROExpected)
                let oldAddress = await client.currentLocalAddress()
                let newAddress = try await client.rebind(host: "127.0.0.1")
                XCTAssertNotEqual(newAddress.port, oldAddress.port)
                XCTAssertEqual(client.localAddress, newAddress, "localAddress follows the new socket")
                XCTAssertEqual(client.address.directAddresses, [newAddress])
                let rebound = await client.currentSocketReceiveOptions()
                XCTAssertTrue(rebound.isECNEnabled, "ECN reporting on the new socket")
                XCTAssertEqual(rebound.isGROEnabled, rebound.isGROExpected, "GRO on the new socket where supported")
            }
        }
    }
}

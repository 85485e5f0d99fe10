import FerryTestSupport
import XCTest

@testable import FerryTransport

/// The anti-amplification budget before address validation (RFC 9000 §8.1): "servers MUST count all of the
/// payload bytes received in datagrams that are uniquely attributed to a single connection. This includes
/// datagrams that contain packets that are successfully processed and datagrams that contain packets that are all
/// discarded."
final class AmplificationBudgetTests: XCTestCase {
    func testDiscardedDatagramsStillRaiseTheBudget() throws {
        let network = SimulatedNetwork()
        var serverSent = 0
        var firstClientDatagram: [UInt8]?
        network.onDatagram = { role, bytes in
            if role == .server {
                serverSent += bytes.count
            } else if firstClientDatagram == nil {
                firstClientDatagram = bytes
            }
        }
        _ = try network.connect()
        // Deliver only the client's first datagram; the server, never validated, stops at 3× its size.
        network.step()
        network.clientToServer.lossRate = 1
        network.run(until: { false }, timeLimit: .seconds(5))
        let first = try XCTUnwrap(firstClientDatagram)
        let blocked = serverSent
        XCTAssertGreaterThan(blocked, 2 * first.count, "the server used its budget")
        XCTAssertLessThanOrEqual(blocked, 3 * first.count)

        // A copy with a broken AEAD tag reaches the same connection (its Destination Connection ID) and is
        // discarded, yet its bytes count: the server may send up to 3× more again.
        var corrupted = first
        corrupted[corrupted.count - 1] ^= 0xff
        let server = try XCTUnwrap(network.server.connections.values.first, "the server holds the connection")
        let dropped = server.stats.packetsDropped
        network.inject(corrupted, to: .server)
        network.run(until: { false }, timeLimit: .seconds(5))
        XCTAssertGreaterThan(server.stats.packetsDropped, dropped, "the copy was discarded")
        XCTAssertFalse(server.isAddressValidated)
        XCTAssertGreaterThan(serverSent, blocked, "its bytes raised the budget")
        XCTAssertLessThanOrEqual(serverSent, 3 * (first.count + corrupted.count))
    }
}

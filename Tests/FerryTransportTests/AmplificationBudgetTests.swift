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

    /// A budget above `minimumPacketBudget` but too small for the server's Initial header, an ACK and the AEAD tag
    /// sends nothing, and must count as blocked: before, the due ACK kept `nextTimeout()` at `now` forever, so a
    /// runtime's timer spun (found by Scripts/fuzz-transport; the input is
    /// Fuzz/TransportFuzz/Seeds/datagrams/regression-amplification-livelock).
    func testBudgetTooSmallForAnyPacketDoesNotSpinTheTimer() throws {
        let now = Instant(nanoseconds: 1_000_000_000)
        let clientAddress = try XCTUnwrap(NetworkAddress(ipBytes: [10, 0, 0, 1], port: 4433))
        let serverAddress = try XCTUnwrap(NetworkAddress(ipBytes: [10, 0, 0, 2], port: 443))
        let client = TransportEndpoint(config: EndpointConfig(
            crypto: TestCryptoProvider(identitySeed: 1), acceptsIncoming: false, randomSeed: 1))
        let server = TransportEndpoint(config: EndpointConfig(crypto: TestCryptoProvider(identitySeed: 2), randomSeed: 2))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        defer { buffer.deallocate() }
        _ = try client.connect(
            to: serverAddress, expectedPeer: SimulatedNetwork.testServerIdentity, alpns: [Array("test".utf8)], now: now)
        let initial = try XCTUnwrap(client.pollTransmit(now: now, into: buffer))
        server.handle(
            datagram: [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<initial.size])), from: clientAddress, now: now)
        let connection = try XCTUnwrap(server.connections.values.first)
        XCTAssertFalse(connection.isAddressValidated)
        // Spend the budget but 48 bytes: not below minimumPacketBudget, yet less than any Initial the server builds.
        connection.amplificationBytesSent = connection.amplificationBytesReceived * 3 - 48

        XCTAssertNil(server.pollTransmit(now: now, into: buffer), "nothing fits in 48 bytes")
        if let deadline = server.nextTimeout() {
            XCTAssertGreaterThan(deadline, now, "a due ACK that cannot be sent must not keep the timer at now")
        }
        // With budget again (as when more bytes arrive from the client), the ACK and the server's flight go out.
        connection.amplificationBytesSent = 0
        XCTAssertNotNil(connection.pollTransmit(now: now, into: buffer))
        XCTAssertFalse(connection.recovery.isAmplificationLimited)
    }
}

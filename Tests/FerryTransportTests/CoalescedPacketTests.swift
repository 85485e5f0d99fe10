import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Coalesced packets (RFC 9000 §12.2): "Receivers SHOULD ignore any subsequent packets with a different
/// Destination Connection ID than the first packet in the datagram."
final class CoalescedPacketTests: XCTestCase {
    /// A Handshake-type long header packet for `destination` with `length` bytes of junk: it parses, then fails
    /// to decrypt (the Handshake keys are long gone), like the first packet of a coalesced datagram.
    private func junkHandshakePacket(to destination: ConnectionID) -> [UInt8] {
        [0xE0, 0x00, 0x00, 0x00, 0x01, UInt8(destination.count)] + destination.bytes + [0x00]
            + quicVarint(24) + [UInt8](repeating: 0x33, count: 24)
    }

    func testPacketsWithAnotherDestinationConnectionIDAreIgnored() throws {
        let probe = try ViolationProbe()
        let network = probe.network
        let client = try XCTUnwrap(network.client.connection(probe.clientHandle))
        let server = try XCTUnwrap(network.serverConnection)
        probe.harness.run(timeLimit: .milliseconds(300)) { false }
        let inUse = server.destinationConnectionID
        let spare = try XCTUnwrap(server.peerConnectionIDs.available.first?.connectionID, "a spare client ID")
        XCTAssertNotEqual(spare, inUse)

        // A 1-RTT PING to another of the client's IDs behind a packet to the ID in use: ignored.
        let received = client.stats.packetsReceived
        let mixed = junkHandshakePacket(to: inUse)
            + (try craftProtectedOneRTTPacket(from: server, destinationConnectionID: spare, payload: [0x01]))
        network.client.handle(datagram: mixed, from: network.serverAddress, now: network.now)
        XCTAssertEqual(client.stats.packetsReceived, received, "the second packet was ignored")
        XCTAssertFalse(client.isClosed)

        // The same with matching IDs: processed.
        let matching = junkHandshakePacket(to: inUse)
            + (try craftProtectedOneRTTPacket(from: server, destinationConnectionID: inUse, payload: [0x01]))
        network.client.handle(datagram: matching, from: network.serverAddress, now: network.now)
        XCTAssertEqual(client.stats.packetsReceived, received + 1)
    }
}

import FerryTestSupport
import XCTest

@testable import FerryTransport

/// A client talks to its server's address only (RFC 9000 §9: "If a client receives packets from an unknown
/// server address, the client MUST discard these packets"); servers do not migrate, and Ferry uses no
/// preferred_address (§9.6).
final class ClientServerAddressTests: XCTestCase {
    private func pollClient(_ network: PathTestNetwork) -> Int? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        defer { buffer.deallocate() }
        return network.client.pollTransmit(now: network.now, into: buffer, maxSegments: 1)?.size
    }

    func testClientDiscardsPacketsFromAnUnknownServerAddress() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        network.run(for: .seconds(1))
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        XCTAssertNil(pollClient(network), "quiet before the test")
        let datagram = try XCTUnwrap(network.takePing(from: server))

        // From another address (another port of the same host, as a rebinding server would look): dropped.
        let elsewhere = NetworkAddress(ipBytes: [10, 0, 0, 2], port: 444)!
        let received = client.stats.packetsReceived
        let bytes = client.stats.bytesReceived
        let dropped = network.client.droppedDatagrams
        let paths = client.paths
        network.client.handle(datagram: datagram, from: elsewhere, now: network.now)
        XCTAssertEqual(client.stats.packetsReceived, received, "not processed")
        XCTAssertEqual(client.stats.bytesReceived, bytes)
        XCTAssertEqual(network.client.droppedDatagrams, dropped + 1)
        XCTAssertEqual(client.paths, paths, "no path state")
        XCTAssertEqual(client.remoteAddress, network.serverAddress)
        XCTAssertNil(network.client.nextTimeout().flatMap { $0 <= network.now ? $0 : nil }, "no ACK timer due")
        network.client.handleTimeout(now: network.now + .milliseconds(30))
        XCTAssertNil(pollClient(network), "no ACK for a discarded packet")

        // The very same datagram from the server's address is processed and acknowledged.
        network.client.handle(datagram: datagram, from: network.serverAddress, now: network.now)
        XCTAssertEqual(client.stats.packetsReceived, received + 1)
        network.client.handleTimeout(now: network.now + .milliseconds(30))
        XCTAssertNotNil(pollClient(network), "an ACK for the PING")
    }

    func testClientIgnoresAStatelessResetFromAnUnknownAddress() throws {
        let network = PathTestNetwork()
        let (handle, _) = try network.connect()
        network.run(for: .seconds(1))
        let client = try XCTUnwrap(network.client.connection(handle))
        let token = try XCTUnwrap(client.peerConnectionIDs.active.resetToken)
        // A stateless reset (RFC 9000 §10.3): unpredictable bits with the fixed bit set, ending in the token.
        var reset = [UInt8](repeating: 0x5a, count: 40)
        reset[0] = 0x40 | 0x1b
        reset.replaceSubrange(24..<40, with: token.withUnsafeBytes { Array($0) })
        network.client.handle(datagram: reset, from: NetworkAddress(ipBytes: [192, 0, 2, 1], port: 443)!, now: network.now)
        XCTAssertFalse(client.isClosed, "a reset from an unknown address is discarded")
        network.client.handle(datagram: reset, from: network.serverAddress, now: network.now)
        XCTAssertTrue(client.isClosed, "the same reset from the server ends it")
    }
}

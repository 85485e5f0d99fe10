import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Path validation datagrams are expanded to at least 1200 bytes (RFC 9000 §8.2.1 for PATH_CHALLENGE, §8.2.2 for
/// PATH_RESPONSE), so validation also proves the path carries full-size datagrams; the anti-amplification
/// exception is covered by `PathMigrationTests.testAmplificationLimitOnUnvalidatedNewPath`.
final class PathValidationPaddingTests: XCTestCase {
    func testChallengeAndResponseDatagramsAreAtLeast1200Bytes() throws {
        let network = PathTestNetwork()
        let (handle, serverHandle) = try network.connect()
        network.run(for: .milliseconds(500))
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.server.connection(serverHandle))
        let newLocal = NetworkAddress(ipBytes: [10, 0, 1, 1], port: 5000)!
        network.clientLocals.insert(newLocal)
        try client.migrate(to: newLocal, from: network.clientSocket, now: network.now)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        defer { buffer.deallocate() }
        // The client's first datagram on the new path carries its PATH_CHALLENGE.
        let challenge = try XCTUnwrap(network.client.pollTransmit(now: network.now, into: buffer, maxSegments: 1))
        XCTAssertEqual(challenge.source, newLocal)
        XCTAssertGreaterThanOrEqual(challenge.size, 1200, "PATH_CHALLENGE datagram expanded (§8.2.1)")
        let challengeBytes = Array(UnsafeRawBufferPointer(rebasing: buffer[0..<challenge.size]))

        // The server answers on the path the challenge came from, also expanded (§8.2.2), within 3× what arrived.
        network.server.handle(datagram: challengeBytes, from: newLocal, now: network.now)
        var response: Transmit?
        while let transmit = network.server.pollTransmit(now: network.now, into: buffer, maxSegments: 1) {
            if transmit.destination == newLocal {
                response = transmit
                break
            }
        }
        let answer = try XCTUnwrap(response, "a PATH_RESPONSE went to the new address")
        XCTAssertGreaterThanOrEqual(answer.size, 1200, "PATH_RESPONSE datagram expanded (§8.2.2)")
        XCTAssertLessThanOrEqual(answer.size, 3 * challenge.size)
        XCTAssertTrue(server.paths.contains { $0.remoteAddress == newLocal }, "the server probes the new path")
    }
}

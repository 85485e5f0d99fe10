import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Version negotiation both ways (RFC 9000 §6): the server answers unknown versions; the client aborts only on a
/// genuine Version Negotiation packet that offers nothing it supports.
final class VersionNegotiationTests: XCTestCase {
    let clientSource = ConnectionID.repeating(0x0C, count: 8)
    let clientDestination = ConnectionID.repeating(0x0D, count: 8)

    /// A long-header packet of `version`, padded to `length` bytes.
    func unknownVersionInitial(version: UInt32, length: Int) -> [UInt8] {
        var bytes: [UInt8] = [0xC0]
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: version >> (24 - 8 * UInt32($0))) }
        bytes.append(8)
        bytes += clientDestination.bytes
        bytes.append(8)
        bytes += clientSource.bytes
        bytes += [UInt8](repeating: 0, count: length - bytes.count)
        return bytes
    }

    func testServerAnswersUnknownVersion() throws {
        let network = makeAddressValidationNetwork()
        let recorder = DatagramRecorder(network)
        network.inject(unknownVersionInitial(version: 0xFF00_001D, length: 1200), to: .server)
        network.inject(unknownVersionInitial(version: 0xFF00_001D, length: 1199), to: .server)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        let answers = recorder.sent(by: .server)
        XCTAssertEqual(answers.count, 1, "only a datagram of at least 1200 bytes gets an answer (RFC 9000 §6.1)")
        let header = try PacketHeader.parse(try XCTUnwrap(answers.first), at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.type, .versionNegotiation)
        XCTAssertTrue(header.supportedVersions.contains(QUICVersion.version1))
        XCTAssertEqual(header.destinationConnectionID, clientSource)
        XCTAssertEqual(header.sourceConnectionID, clientDestination)
        XCTAssertEqual(network.server.connectionCount, 0)
    }

    func testClientAbortsWhenNoVersionIsShared() throws {
        let network = makeAddressValidationNetwork()
        network.clientToServer.lossRate = 1
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        network.inject(PacketWriter.encodeVersionNegotiation(
            destinationConnectionID: client.sourceConnectionID,
            sourceConnectionID: client.originalDestinationConnectionID, supportedVersions: [0xFF00_001D, 0x0A0A_0A0A]),
            to: .client)
        XCTAssertTrue(network.run(until: {
            network.events(of: .client).contains(.closed(.versionNegotiationFailed))
        }, timeLimit: .milliseconds(50)))
    }

    func testClientIgnoresVersionNegotiationListingV1OrWithWrongConnectionIDs() throws {
        let network = makeAddressValidationNetwork()
        let handle = try network.connect()
        let client = try XCTUnwrap(network.client.connection(handle))
        network.inject(PacketWriter.encodeVersionNegotiation(
            destinationConnectionID: client.sourceConnectionID,
            sourceConnectionID: client.originalDestinationConnectionID,
            supportedVersions: [0xFF00_001D, QUICVersion.version1]), to: .client)
        network.inject(PacketWriter.encodeVersionNegotiation(
            destinationConnectionID: client.sourceConnectionID, sourceConnectionID: .repeating(0x99, count: 8),
            supportedVersions: [0xFF00_001D]), to: .client)
        XCTAssertTrue(network.run(until: { client.isHandshakeConfirmed }, timeLimit: .seconds(2)))
        XCTAssertFalse(network.events(of: .client).contains(.closed(.versionNegotiationFailed)))
    }
}

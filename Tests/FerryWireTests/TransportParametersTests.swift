import FerryWire
import XCTest

final class TransportParametersTests: XCTestCase {
    let full = TransportParameters(
        originalDestinationConnectionID: connectionID("8394c8f03e515708"), maxIdleTimeout: 30000,
        statelessResetToken: resetToken(1), maxUDPPayloadSize: 1452, initialMaxData: 1 << 24,
        initialMaxStreamDataBidiLocal: 1 << 20, initialMaxStreamDataBidiRemote: 1 << 21,
        initialMaxStreamDataUni: 1 << 19, initialMaxStreamsBidi: 100, initialMaxStreamsUni: 1 << 60,
        ackDelayExponent: 20, maxAckDelay: (1 << 14) - 1, disableActiveMigration: true,
        preferredAddress: PreferredAddress(
            ipv4Address: [192, 0, 2, 1], ipv4Port: 4433, ipv6Address: [UInt8](repeating: 0x20, count: 16),
            ipv6Port: 4434, connectionID: connectionID("0102030405"), statelessResetToken: resetToken(7)),
        activeConnectionIDLimit: 8, initialSourceConnectionID: connectionID("aabbcc"),
        retrySourceConnectionID: connectionID("ddeeff00"), maxDatagramFrameSize: 65535)

    func testDefaults() throws {
        let defaults = TransportParameters()
        XCTAssertEqual(defaults.maxUDPPayloadSize, 65527)
        XCTAssertEqual(defaults.ackDelayExponent, 3)
        XCTAssertEqual(defaults.maxAckDelay, 25)
        XCTAssertEqual(defaults.activeConnectionIDLimit, 2)
        XCTAssertNil(defaults.maxDatagramFrameSize)
        XCTAssertEqual(defaults.encoded(), [])
        XCTAssertEqual(try TransportParameters.decode([], sentBy: .client), defaults)
    }

    func testRoundTripBothSides() throws {
        XCTAssertEqual(try TransportParameters.decode(full.encoded(), sentBy: .server), full)
        var client = full
        client.originalDestinationConnectionID = nil
        client.statelessResetToken = nil
        client.preferredAddress = nil
        client.retrySourceConnectionID = nil
        XCTAssertEqual(try TransportParameters.decode(client.encoded(), sentBy: .client), client)
        // Zero-length connection IDs are valid values.
        let empty = TransportParameters(initialSourceConnectionID: .empty)
        XCTAssertEqual(try TransportParameters.decode(empty.encoded(), sentBy: .client), empty)
    }

    func testServerOnlyParametersFromClientRejected() {
        for (id, value) in [
            (TransportParameterID.originalDestinationConnectionID, [UInt8]([1, 2])),
            (TransportParameterID.statelessResetToken, [UInt8](repeating: 1, count: 16)),
            (TransportParameterID.retrySourceConnectionID, [UInt8]([3])),
        ] {
            let bytes = [UInt8(id), UInt8(value.count)] + value
            assertThrowsWireError(.invalidTransportParameter(id: id, reason: "server-only parameter sent by client")) {
                _ = try TransportParameters.decode(bytes, sentBy: .client)
            }
            XCTAssertNoThrow(try TransportParameters.decode(bytes, sentBy: .server))
        }
        let preferred = full.encoded()
        assertThrowsWireError { _ = try TransportParameters.decode(preferred, sentBy: .client) }
    }

    func testValueValidation() {
        func parameter(_ id: UInt64, _ value: UInt64) -> [UInt8] {
            ByteWriter.encode(capacity: 32) { writer in
                writer.writeVarInt(id)
                writer.writeVarInt(UInt64(VarInt.encodedLength(value)))
                writer.writeVarInt(value)
            }
        }
        let invalid: [(UInt64, UInt64)] = [
            (TransportParameterID.maxUDPPayloadSize, 1199),
            (TransportParameterID.ackDelayExponent, 21),
            (TransportParameterID.maxAckDelay, 1 << 14),
            (TransportParameterID.activeConnectionIDLimit, 1),
            (TransportParameterID.initialMaxStreamsBidi, (1 << 60) + 1),
            (TransportParameterID.initialMaxStreamsUni, (1 << 60) + 1),
        ]
        for (id, value) in invalid {
            assertThrowsWireError { _ = try TransportParameters.decode(parameter(id, value), sentBy: .server) }
            XCTAssertEqual(
                (try? TransportParameters.decode(parameter(id, value), sentBy: .server)) == nil, true, "\(id)")
        }
        let valid: [(UInt64, UInt64)] = [
            (TransportParameterID.maxUDPPayloadSize, 1200),
            (TransportParameterID.ackDelayExponent, 20),
            (TransportParameterID.maxAckDelay, (1 << 14) - 1),
            (TransportParameterID.activeConnectionIDLimit, 2),
            (TransportParameterID.initialMaxStreamsBidi, 1 << 60),
        ]
        for (id, value) in valid {
            XCTAssertNoThrow(try TransportParameters.decode(parameter(id, value), sentBy: .server), "\(id)")
        }
        do {
            _ = try TransportParameters.decode(parameter(TransportParameterID.ackDelayExponent, 21), sentBy: .client)
        } catch {
            XCTAssertEqual(error.transportErrorCode, 0x08)
        }
    }

    func testMalformedEncodings() {
        // Integer with trailing bytes inside its length.
        assertThrowsWireError { _ = try TransportParameters.decode([0x01, 0x02, 0x05, 0x00], sentBy: .client) }
        // Length runs past the end.
        assertThrowsWireError { _ = try TransportParameters.decode([0x01, 0x04, 0x05], sentBy: .client) }
        // Duplicate parameter.
        assertThrowsWireError(.invalidTransportParameter(id: 1, reason: "duplicate")) {
            _ = try TransportParameters.decode([0x01, 0x01, 0x05, 0x01, 0x01, 0x06], sentBy: .client)
        }
        // disable_active_migration with a value.
        assertThrowsWireError { _ = try TransportParameters.decode([0x0c, 0x01, 0x00], sentBy: .client) }
        // Stateless reset token of the wrong size.
        assertThrowsWireError { _ = try TransportParameters.decode([0x02, 0x01, 0x00], sentBy: .server) }
        // Connection ID over 20 bytes.
        assertThrowsWireError {
            _ = try TransportParameters.decode([0x0f, 21] + [UInt8](repeating: 1, count: 21), sentBy: .client)
        }
        // Preferred address with a zero-length connection ID.
        var preferred: [UInt8] = [UInt8](repeating: 0, count: 24) + [0] + [UInt8](repeating: 9, count: 16)
        preferred = [0x0d, UInt8(preferred.count)] + preferred
        assertThrowsWireError { _ = try TransportParameters.decode(preferred, sentBy: .server) }
        // Truncated everywhere: every strict prefix either decodes (at a parameter boundary) or throws.
        let bytes = full.encoded()
        for cut in 0..<bytes.count {
            _ = try? TransportParameters.decode(Array(bytes.prefix(cut)), sentBy: .server)
        }
    }

    func testUnknownAndGreaseParametersSkipped() throws {
        // GREASE id 31 * 5 + 27 = 182 (two-byte varint 0x40b6), plus an unknown id 0x3f.
        let bytes: [UInt8] = [0x40, 0xb6, 0x03, 1, 2, 3, 0x3f, 0x00, 0x01, 0x01, 0x07]
        let decoded = try TransportParameters.decode(bytes, sentBy: .client)
        XCTAssertEqual(decoded.maxIdleTimeout, 7)
    }
}

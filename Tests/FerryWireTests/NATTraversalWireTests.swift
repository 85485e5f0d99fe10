import FerryWire
import XCTest

/// ADD_ADDRESS, PUNCH_ME_NOW, REMOVE_ADDRESS and the nat_traversal transport parameter
/// (draft-seemann-quic-nat-traversal-02 §4.5, §4.6).
final class NATTraversalWireTests: XCTestCase {
    // MARK: Frames (§4.6)

    func testAddAddressLayout() throws {
        let frame = try XCTUnwrap(AddAddressFrame(sequenceNumber: 2, ipAddress: [192, 0, 2, 1], port: 4433))
        // Type 0x3d7e90 as a 4-byte varint, Sequence Number, IPv4 (32), Port (16).
        let expected = hexBytes("803d7e90 02 c0000201 1151")
        XCTAssertEqual(encodeFrame(.addAddress(frame)), expected)
        XCTAssertEqual(try decodeSingleFrame(expected), .addAddress(frame))
        let v6 = try XCTUnwrap(AddAddressFrame(sequenceNumber: 0, ipAddress: [UInt8](repeating: 0, count: 15) + [1], port: 443))
        XCTAssertEqual(encodeFrame(.addAddress(v6)), hexBytes("803d7e91 00 00000000000000000000000000000001 01bb"))
    }

    func testPunchMeNowLayout() throws {
        let frame = try XCTUnwrap(
            PunchMeNowFrame(round: 3, pairedWithSequenceNumber: 300, ipAddress: [10, 0, 0, 1], port: 443))
        // Type 0x3d7e92, Round, Paired With Sequence Number (2-byte varint 300), IPv4, Port.
        let expected = hexBytes("803d7e92 03 412c 0a000001 01bb")
        XCTAssertEqual(encodeFrame(.punchMeNow(frame)), expected)
        XCTAssertEqual(try decodeSingleFrame(expected), .punchMeNow(frame))
        XCTAssertEqual(Frame.punchMeNow(frame).frameType, FrameType.punchMeNowIPv4)
    }

    func testRemoveAddressLayout() throws {
        XCTAssertEqual(encodeFrame(.removeAddress(sequenceNumber: 5)), hexBytes("803d7e94 05"))
        XCTAssertEqual(try decodeSingleFrame(hexBytes("803d7e94 05")), .removeAddress(sequenceNumber: 5))
    }

    func testInitialisersRejectBadFields() {
        XCTAssertNil(AddAddressFrame(sequenceNumber: 0, ipAddress: [1, 2, 3], port: 1))
        XCTAssertNil(AddAddressFrame(sequenceNumber: VarInt.maxValue + 1, ipAddress: [1, 2, 3, 4], port: 1))
        XCTAssertNil(PunchMeNowFrame(round: 0, pairedWithSequenceNumber: 0, ipAddress: [], port: 1))
        XCTAssertNil(PunchMeNowFrame(round: VarInt.maxValue + 1, pairedWithSequenceNumber: 0, ipAddress: [1, 2, 3, 4], port: 1))
        XCTAssertNil(PunchMeNowFrame(round: 0, pairedWithSequenceNumber: VarInt.maxValue + 1, ipAddress: [1, 2, 3, 4], port: 1))
    }

    func testMalformedFramesAreFrameEncodingErrors() {
        let malformed = [
            hexBytes("803d7e91 01 c0000201 1151"),  // IPv6 type, IPv4 body
            hexBytes("803d7e90 01 c0000201 11"),  // a port byte short
            hexBytes("803d7e90"),
            hexBytes("803d7e92 01"),  // no paired sequence number
            hexBytes("803d7e93 01 02 c0000201 1151"),  // IPv6 type, IPv4 body
            hexBytes("803d7e94"),
            hexBytes("803d7e94 c0"),  // truncated varint
        ]
        for bytes in malformed {
            var reader = ByteReader(bytes)
            do {
                _ = try Frame.decode(from: &reader)
                XCTFail("decoded \(bytes)")
            } catch {
                XCTAssertEqual(error.transportErrorCode, 0x07, "\(bytes)")
            }
        }
        assertThrowsWireError(.invalidFrame(type: 0x3d7e94, reason: "frame type not minimally encoded")) {
            _ = try decodeSingleFrame(hexBytes("c000000000 3d7e94 01"))
        }
    }

    func testFramesAreAckElicitingAndNotInHandshakePackets() throws {
        let frames: [Frame] = [
            .addAddress(try XCTUnwrap(AddAddressFrame(sequenceNumber: 0, ipAddress: [1, 2, 3, 4], port: 1))),
            .punchMeNow(try XCTUnwrap(PunchMeNowFrame(round: 0, pairedWithSequenceNumber: 0, ipAddress: [1, 2, 3, 4], port: 1))),
            .removeAddress(sequenceNumber: 0),
        ]
        for frame in frames {
            XCTAssertTrue(frame.isAckEliciting)
            XCTAssertFalse(frame.isAllowed(in: .initial))
            XCTAssertFalse(frame.isAllowed(in: .handshake))
            XCTAssertTrue(frame.isAllowed(in: .oneRTT))
        }
    }

    // MARK: nat_traversal transport parameter (§4.5)

    func testParameterDependsOnTheSender() throws {
        let client = TransportParameters(natTraversal: .client)
        // Id 0x3d7e9f0bca12fea6 as an 8-byte varint, then an empty value.
        XCTAssertEqual(client.encoded(), hexBytes("fd7e9f0bca12fea6 00"))
        XCTAssertEqual(try TransportParameters.decode(client.encoded(), sentBy: .client), client)
        let server = TransportParameters(natTraversal: .server(concurrencyLimit: 5))
        XCTAssertEqual(server.encoded(), hexBytes("fd7e9f0bca12fea6 01 05"))
        XCTAssertEqual(try TransportParameters.decode(server.encoded(), sentBy: .server), server)
        XCTAssertEqual(server.natTraversal?.concurrencyLimit, 5)
        XCTAssertNil(TransportParameters().natTraversal, "absent means unsupported")
    }

    func testInvalidParameterValuesAreTransportParameterErrors() {
        let id = TransportParameterID.natTraversal
        let cases: [(bytes: [UInt8], sender: Side, reason: String)] = [
            (hexBytes("fd7e9f0bca12fea6 01 05"), .client, "nat_traversal from a client must be empty"),
            (hexBytes("fd7e9f0bca12fea6 01 00"), .server, "nat_traversal concurrency limit must be above 0"),
            (hexBytes("fd7e9f0bca12fea6 00"), .server, "malformed"),
            (hexBytes("fd7e9f0bca12fea6 02 0500"), .server, "trailing bytes"),
            (hexBytes("fd7e9f0bca12fea6 00 fd7e9f0bca12fea6 00"), .client, "duplicate"),
        ]
        for (bytes, sender, reason) in cases {
            assertThrowsWireError(.invalidTransportParameter(id: id, reason: reason)) {
                _ = try TransportParameters.decode(bytes, sentBy: sender)
            }
        }
    }
}

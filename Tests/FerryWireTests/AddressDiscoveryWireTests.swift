import FerryWire
import XCTest

/// OBSERVED_ADDRESS frames and the address_discovery transport parameter (draft-ietf-quic-address-discovery-00).
final class AddressDiscoveryWireTests: XCTestCase {
    // MARK: OBSERVED_ADDRESS (§4.1)

    func testIPv4FrameLayout() throws {
        let frame = try XCTUnwrap(ObservedAddressFrame(sequenceNumber: 1, ipAddress: [192, 0, 2, 1], port: 4433))
        // Type 0x9f81a6 as a 4-byte varint, Sequence Number, IPv4 (32), Port (16).
        let expected = hexBytes("809f81a6 01 c0000201 1151")
        XCTAssertEqual(encodeFrame(.observedAddress(frame)), expected)
        XCTAssertEqual(try decodeSingleFrame(expected), .observedAddress(frame))
        XCTAssertEqual(frame.frameType, FrameType.observedAddressIPv4)
        XCTAssertFalse(frame.isIPv6)
    }

    func testIPv6FrameLayout() throws {
        let address: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        let frame = try XCTUnwrap(ObservedAddressFrame(sequenceNumber: 300, ipAddress: address, port: 443))
        // Type 0x9f81a7, Sequence Number 300 (2-byte varint), IPv6 (128), Port (16).
        let expected = hexBytes("809f81a7 412c 20010db8000000000000000000000001 01bb")
        XCTAssertEqual(encodeFrame(.observedAddress(frame)), expected)
        XCTAssertEqual(try decodeSingleFrame(expected), .observedAddress(frame))
        XCTAssertTrue(frame.isIPv6)
        XCTAssertEqual(Frame.observedAddress(frame).frameType, 0x9f81a7)
    }

    func testInitialiserRejectsBadAddressesAndSequenceNumbers() {
        XCTAssertNil(ObservedAddressFrame(sequenceNumber: 0, ipAddress: [], port: 1))
        XCTAssertNil(ObservedAddressFrame(sequenceNumber: 0, ipAddress: [1, 2, 3], port: 1))
        XCTAssertNil(ObservedAddressFrame(sequenceNumber: 0, ipAddress: [UInt8](repeating: 1, count: 5), port: 1))
        XCTAssertNil(ObservedAddressFrame(sequenceNumber: VarInt.maxValue + 1, ipAddress: [1, 2, 3, 4], port: 1))
        XCTAssertNotNil(ObservedAddressFrame(sequenceNumber: VarInt.maxValue, ipAddress: [1, 2, 3, 4], port: 1))
    }

    func testMalformedFramesAreFrameEncodingErrors() {
        // An IPv6 type with only an IPv4 body, and an IPv4 frame missing a port byte.
        for bytes in [hexBytes("809f81a7 01 c0000201 1151"), hexBytes("809f81a6 01 c0000201 11"), hexBytes("809f81a6")] {
            assertThrowsWireError {
                _ = try decodeSingleFrame(bytes)
            }
            var reader = ByteReader(bytes)
            do {
                _ = try Frame.decode(from: &reader)
                XCTFail("decoded \(bytes)")
            } catch {
                XCTAssertEqual(error.transportErrorCode, 0x07)
            }
        }
        // The frame type in a longer encoding than needed (RFC 9000 §12.4).
        assertThrowsWireError(.invalidFrame(type: 0x9f81a6, reason: "frame type not minimally encoded")) {
            _ = try decodeSingleFrame(hexBytes("c0000000009f81a6 01 c0000201 1151"))
        }
    }

    func testFrameIsAllowedOnlyInApplicationDataPackets() throws {
        let frame = Frame.observedAddress(
            try XCTUnwrap(ObservedAddressFrame(sequenceNumber: 0, ipAddress: [10, 0, 0, 1], port: 1)))
        XCTAssertFalse(frame.isAllowed(in: .initial))
        XCTAssertFalse(frame.isAllowed(in: .handshake))
        XCTAssertTrue(frame.isAllowed(in: .zeroRTT))
        XCTAssertTrue(frame.isAllowed(in: .oneRTT))
        XCTAssertTrue(frame.isAckEliciting)
    }

    // MARK: address_discovery transport parameter (§3)

    func testParameterRoundTripsEveryValue() throws {
        for mode in AddressDiscoveryMode.allCases {
            let parameters = TransportParameters(addressDiscovery: mode)
            // Id 0x9f81a176 as an 8-byte varint, length 1, the value.
            XCTAssertEqual(parameters.encoded(), hexBytes("c00000009f81a176 01") + [UInt8(mode.rawValue)])
            for side in [Side.client, .server] {
                XCTAssertEqual(try TransportParameters.decode(parameters.encoded(), sentBy: side), parameters)
            }
        }
        XCTAssertNil(TransportParameters().addressDiscovery, "absent means unsupported")
        // Values need not use the shortest varint encoding (RFC 9000 §16).
        XCTAssertEqual(
            try TransportParameters.decode(hexBytes("c00000009f81a176 02 4002"), sentBy: .client).addressDiscovery,
            .provideAndReceive)
        XCTAssertTrue(AddressDiscoveryMode.provideOnly.providesObservations)
        XCTAssertFalse(AddressDiscoveryMode.provideOnly.receivesObservations)
        XCTAssertFalse(AddressDiscoveryMode.receiveOnly.providesObservations)
        XCTAssertTrue(AddressDiscoveryMode.receiveOnly.receivesObservations)
        XCTAssertTrue(AddressDiscoveryMode.provideAndReceive.providesObservations)
        XCTAssertTrue(AddressDiscoveryMode.provideAndReceive.receivesObservations)
    }

    func testInvalidParameterValuesAreTransportParameterErrors() {
        let id = TransportParameterID.addressDiscovery
        let cases: [(bytes: [UInt8], reason: String)] = [
            (hexBytes("c00000009f81a176 01 03"), "address_discovery must be 0, 1 or 2"),
            (hexBytes("c00000009f81a176 02 4003"), "address_discovery must be 0, 1 or 2"),
            (hexBytes("c00000009f81a176 02 0200"), "trailing bytes"),
            (hexBytes("c00000009f81a176 00"), "malformed"),
            (hexBytes("c00000009f81a176 01 02 c00000009f81a176 01 02"), "duplicate"),
        ]
        for (bytes, reason) in cases {
            assertThrowsWireError(.invalidTransportParameter(id: id, reason: reason)) {
                _ = try TransportParameters.decode(bytes, sentBy: .client)
            }
            XCTAssertEqual(WireError.invalidTransportParameter(id: id, reason: reason).transportErrorCode, 0x08)
        }
    }
}

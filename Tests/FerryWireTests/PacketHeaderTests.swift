import FerryWire
import XCTest

final class PacketHeaderTests: XCTestCase {
    let dcid = connectionID("8394c8f03e515708")
    let scid = connectionID("f067a5502a4262b5")

    /// Builds a long-header packet with `payloadLength` payload bytes (Length covers pn + payload).
    func longPacket(
        _ type: PacketType, token: [UInt8] = [], packetNumber: UInt64 = 7, packetNumberLength: Int = 2,
        payloadLength: Int = 30
    ) -> [UInt8] {
        ByteWriter.encode(capacity: 200 + token.count + payloadLength) { writer in
            let lengthOffset = PacketWriter.writeLongHeader(
                into: &writer, type: type, version: QUICVersion.version1, destinationConnectionID: dcid,
                sourceConnectionID: scid, token: token, packetNumber: packetNumber,
                packetNumberLength: packetNumberLength)
            XCTAssertEqual(
                writer.position,
                PacketWriter.longHeaderLength(
                    type: type, destinationConnectionID: dcid, sourceConnectionID: scid, tokenLength: token.count,
                    packetNumberLength: packetNumberLength))
            writer.writeBytes([UInt8](repeating: 0xee, count: payloadLength))
            PacketWriter.patchLength(payloadLength + packetNumberLength, at: lengthOffset, in: writer.buffer)
        }
    }

    /// RFC 9001 Appendix A.2: the unprotected header of the client Initial.
    func testRFC9001ClientInitialHeader() throws {
        let bytes = ByteWriter.encode(capacity: 64) { writer in
            let lengthOffset = PacketWriter.writeLongHeader(
                into: &writer, type: .initial, version: QUICVersion.version1, destinationConnectionID: dcid,
                sourceConnectionID: .empty, token: [UInt8](), packetNumber: 2, packetNumberLength: 4)
            PacketWriter.patchLength(1182, at: lengthOffset, in: writer.buffer)
        }
        XCTAssertEqual(bytes, hexBytes("c300000001088394c8f03e5157080000449e00000002"))
        let padded = bytes + [UInt8](repeating: 0, count: 1178)
        let header = try PacketHeader.parse(padded, at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.type, .initial)
        XCTAssertEqual(header.version, 1)
        XCTAssertEqual(header.destinationConnectionID, dcid)
        XCTAssertEqual(header.sourceConnectionID, .empty)
        XCTAssertEqual(header.token, [])
        XCTAssertEqual(header.packetNumberOffset, 18)
        XCTAssertEqual(header.packetEnd, 18 + 1182)
        XCTAssertEqual(header.firstByte, 0xc3)
    }

    func testLongHeaderRoundTrips() throws {
        let token: [UInt8] = [1, 2, 3, 4, 5]
        for type in [PacketType.initial, .zeroRTT, .handshake] {
            let packet = longPacket(type, token: token)
            let header = try PacketHeader.parse(packet, at: 0, shortHeaderConnectionIDLength: 8)
            XCTAssertEqual(header.type, type)
            XCTAssertTrue(header.isLongHeader)
            XCTAssertTrue(header.isVersionSupported)
            XCTAssertEqual(header.destinationConnectionID, dcid)
            XCTAssertEqual(header.sourceConnectionID, scid)
            XCTAssertEqual(Array(header.token), type == .initial ? token : [])
            XCTAssertEqual(header.packetEnd, packet.count)
            XCTAssertEqual(packet[header.packetNumberOffset], 0x00)
            XCTAssertEqual(packet[header.packetNumberOffset + 1], 0x07)
            XCTAssertEqual(header.firstByte & 0x03, 1)
        }
    }

    func testShortHeaderRoundTrip() throws {
        let packet = ByteWriter.encode(capacity: 64) { writer in
            PacketWriter.writeShortHeader(
                into: &writer, destinationConnectionID: dcid, packetNumber: 0x1234_5678, packetNumberLength: 3,
                keyPhase: true, spinBit: true)
            XCTAssertEqual(writer.position, PacketWriter.shortHeaderLength(destinationConnectionID: dcid, packetNumberLength: 3))
            writer.writeBytes([UInt8](repeating: 1, count: 20))
        }
        XCTAssertEqual(packet[0], 0x40 | 0x20 | 0x04 | 0x02)
        let header = try PacketHeader.parse(packet, at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.type, .oneRTT)
        XCTAssertEqual(header.version, 0)
        XCTAssertEqual(header.destinationConnectionID, dcid)
        XCTAssertEqual(header.packetNumberOffset, 9)
        XCTAssertEqual(header.packetEnd, packet.count)
        XCTAssertEqual(Array(packet[9..<12]), [0x34, 0x56, 0x78])
        XCTAssertEqual(try PacketHeader.destinationConnectionID(in: packet, shortHeaderConnectionIDLength: 8), dcid)
    }

    func testCoalescedPackets() throws {
        let initial = longPacket(.initial, token: [9, 9], payloadLength: 40)
        let handshake = longPacket(.handshake, payloadLength: 50)
        let short = ByteWriter.encode(capacity: 64) { writer in
            PacketWriter.writeShortHeader(
                into: &writer, destinationConnectionID: dcid, packetNumber: 1, packetNumberLength: 1, keyPhase: false)
            writer.writeBytes([UInt8](repeating: 2, count: 25))
        }
        let datagram = initial + handshake + short
        var offset = 0
        var types: [PacketType] = []
        while offset < datagram.count {
            let header = try PacketHeader.parse(datagram, at: offset, shortHeaderConnectionIDLength: 8)
            types.append(header.type)
            XCTAssertGreaterThan(header.packetEnd, offset)
            offset = header.packetEnd
        }
        XCTAssertEqual(types, [.initial, .handshake, .oneRTT])
        XCTAssertEqual(offset, datagram.count)
        XCTAssertEqual(try PacketHeader.destinationConnectionID(in: datagram, at: initial.count, shortHeaderConnectionIDLength: 8), dcid)
    }

    func testVersionNegotiation() throws {
        let packet = PacketWriter.encodeVersionNegotiation(
            destinationConnectionID: scid, sourceConnectionID: dcid, supportedVersions: [1, 0x0a0a_0a0a])
        let header = try PacketHeader.parse(packet, at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.type, .versionNegotiation)
        XCTAssertEqual(header.version, 0)
        XCTAssertEqual(header.destinationConnectionID, scid)
        XCTAssertEqual(header.sourceConnectionID, dcid)
        XCTAssertEqual(header.supportedVersions, [1, 0x0a0a_0a0a])
        XCTAssertEqual(header.packetEnd, packet.count)
        XCTAssertTrue(QUICVersion.isGrease(0x0a0a_0a0a))
        XCTAssertFalse(QUICVersion.isGrease(1))
        // A version list that is empty or not a multiple of 4 is malformed.
        assertThrowsWireError { _ = try PacketHeader.parse(Array(packet.dropLast(8)), at: 0, shortHeaderConnectionIDLength: 8) }
        assertThrowsWireError { _ = try PacketHeader.parse(Array(packet.dropLast(1)), at: 0, shortHeaderConnectionIDLength: 8) }
    }

    func testRetry() throws {
        let token: [UInt8] = Array("retry-token".utf8)
        let tag = [UInt8](repeating: 0x77, count: 16)
        let packet = PacketWriter.encodeRetryWithoutTag(
            version: QUICVersion.version1, destinationConnectionID: dcid, sourceConnectionID: scid, token: token) + tag
        XCTAssertEqual(packet[0] & 0xf0, 0xf0)
        let header = try PacketHeader.parse(packet, at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.type, .retry)
        XCTAssertEqual(Array(header.retryToken), token)
        XCTAssertEqual(Array(header.retryIntegrityTag), tag)
        XCTAssertEqual(header.packetEnd, packet.count)
        // A Retry with an empty token is invalid.
        let empty = PacketWriter.encodeRetryWithoutTag(
            version: QUICVersion.version1, destinationConnectionID: dcid, sourceConnectionID: scid, token: [UInt8]()) + tag
        assertThrowsWireError { _ = try PacketHeader.parse(empty, at: 0, shortHeaderConnectionIDLength: 8) }
    }

    func testUnknownVersionStillReturnsConnectionIDs() throws {
        var packet = longPacket(.initial)
        packet[1...4] = [0xfa, 0xce, 0xb0, 0x0c]
        packet.append(contentsOf: [1, 2, 3])
        let header = try PacketHeader.parse(packet, at: 0, shortHeaderConnectionIDLength: 8)
        XCTAssertEqual(header.version, 0xface_b00c)
        XCTAssertFalse(header.isVersionSupported)
        XCTAssertEqual(header.destinationConnectionID, dcid)
        XCTAssertEqual(header.sourceConnectionID, scid)
        XCTAssertEqual(header.packetEnd, packet.count)
    }

    func testInvalidHeaders() {
        var noFixedBit = longPacket(.handshake)
        noFixedBit[0] &= ~0x40
        assertThrowsWireError(.invalidPacket("fixed bit is zero")) {
            _ = try PacketHeader.parse(noFixedBit, at: 0, shortHeaderConnectionIDLength: 8)
        }
        assertThrowsWireError(.invalidPacket("fixed bit is zero")) {
            _ = try PacketHeader.parse([0x01] + [UInt8](repeating: 0, count: 20), at: 0, shortHeaderConnectionIDLength: 8)
        }
        // Connection ID length 21 in a v1 long header.
        var longCID = longPacket(.handshake)
        longCID[5] = 21
        assertThrowsWireError { _ = try PacketHeader.parse(longCID, at: 0, shortHeaderConnectionIDLength: 8) }
        // Length beyond the datagram.
        let packet = longPacket(.handshake)
        assertThrowsWireError(.invalidPacket("length exceeds datagram")) {
            _ = try PacketHeader.parse(Array(packet.dropLast()), at: 0, shortHeaderConnectionIDLength: 8)
        }
        assertThrowsWireError(.truncated) { _ = try PacketHeader.parse(packet, at: packet.count, shortHeaderConnectionIDLength: 8) }
        assertThrowsWireError(.truncated) { _ = try PacketHeader.parse(packet, at: -1, shortHeaderConnectionIDLength: 8) }
    }

    /// Every truncation of a long header before its packet number must throw; later ones may parse.
    func testTruncationsAndMutationsNeverTrap() {
        let packets = [
            longPacket(.initial, token: [1, 2, 3]), longPacket(.handshake), longPacket(.zeroRTT),
            PacketWriter.encodeVersionNegotiation(destinationConnectionID: dcid, sourceConnectionID: scid, supportedVersions: [1]),
            PacketWriter.encodeRetryWithoutTag(version: 1, destinationConnectionID: dcid, sourceConnectionID: scid, token: [1, 2]) + [UInt8](repeating: 0, count: 16),
        ]
        for packet in packets {
            for cut in 0..<packet.count {
                let prefix = Array(packet.prefix(cut))
                if let header = try? PacketHeader.parse(prefix, at: 0, shortHeaderConnectionIDLength: 8) {
                    XCTAssertLessThanOrEqual(header.packetEnd, prefix.count)
                    XCTAssertLessThanOrEqual(header.packetNumberOffset, prefix.count)
                }
            }
        }
        var generator = SplitMix64(seed: 42)
        let datagram = packets.prefix(3).reduce([], +)
        for _ in 0..<20000 {
            var bytes = datagram
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            var offset = 0
            while offset < bytes.count,
                let header = try? PacketHeader.parse(bytes, at: offset, shortHeaderConnectionIDLength: 8)
            {
                XCTAssertLessThanOrEqual(header.packetEnd, bytes.count)
                guard header.packetEnd > offset else { break }
                offset = header.packetEnd
            }
        }
    }
}

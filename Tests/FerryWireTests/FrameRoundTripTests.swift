import FerryWire
import XCTest

/// One sample of every frame type (RFC 9000 §19, RFC 9221 §4, draft-ietf-quic-address-discovery-00 §4.1,
/// draft-seemann-quic-nat-traversal-02 §4.6), shared
/// with the malformed-input tests.
let sampleFrames: [Frame] = {
    let payload = ArraySlice((0..<40).map { UInt8($0) })
    let id = ConnectionID([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4] as [UInt8]) ?? .empty
    return [
        .padding(length: 1),
        .padding(length: 5),
        .ping,
        .ack(AckFrame(largestAcknowledged: 100, ackDelay: 25, ranges: [90...100])),
        .ack(AckFrame(largestAcknowledged: 1_000_000, ackDelay: 0, ranges: [999_990...1_000_000, 500...600, 0...10])),
        .ack(
            AckFrame(
                largestAcknowledged: 7, ackDelay: 3, ranges: [7...7, 3...5, 0...1],
                ecnCounts: ECNCounts(ect0: 10, ect1: 0, ce: 70000))),
        .resetStream(streamID: 4, applicationErrorCode: 0x1234, finalSize: 1 << 40),
        .stopSending(streamID: 1 << 61, applicationErrorCode: 0),
        .crypto(offset: 0, data: payload),
        .crypto(offset: 70000, data: []),
        .newToken(token: payload.prefix(16)),
        .stream(StreamFrame(streamID: 0, offset: 0, data: payload, fin: false)),
        .stream(StreamFrame(streamID: 3, offset: 1 << 35, data: payload.prefix(3), fin: true)),
        .stream(StreamFrame(streamID: 8, offset: 0, data: [], fin: true)),
        .maxData(VarInt.maxValue),
        .maxStreamData(streamID: 5, maximum: 65536),
        .maxStreams(bidirectional: true, maximum: 100),
        .maxStreams(bidirectional: false, maximum: Frame.maxStreamCount),
        .dataBlocked(limit: 1000),
        .streamDataBlocked(streamID: 9, limit: 77),
        .streamsBlocked(bidirectional: true, limit: 3),
        .streamsBlocked(bidirectional: false, limit: 0),
        .newConnectionID(
            NewConnectionIDFrame(
                sequenceNumber: 5, retirePriorTo: 2, connectionID: id, statelessResetToken: resetToken(9))),
        .retireConnectionID(sequenceNumber: 17),
        .pathChallenge(data: 0x0102_0304_0506_0708),
        .pathResponse(data: 0xffee_ddcc_bbaa_9988),
        .connectionClose(
            ConnectionCloseFrame(
                isApplicationError: false, errorCode: 0x0a, frameType: 0x08, reasonPhrase: ArraySlice("bad".utf8))),
        .connectionClose(ConnectionCloseFrame(isApplicationError: true, errorCode: 42)),
        .handshakeDone,
        .datagram(data: payload.prefix(20)),
        .datagram(data: []),
        .observedAddress(ObservedAddressFrame(sequenceNumber: 0, ipAddress: [192, 0, 2, 1], port: 4433)!),
        .observedAddress(
            ObservedAddressFrame(
                sequenceNumber: 1 << 40, ipAddress: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 7, count: 12),
                port: 65535)!),
        .addAddress(AddAddressFrame(sequenceNumber: 0, ipAddress: [198, 51, 100, 7], port: 4433)!),
        .addAddress(
            AddAddressFrame(
                sequenceNumber: 1 << 20, ipAddress: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 3, count: 12),
                port: 1)!),
        .punchMeNow(PunchMeNowFrame(round: 1, pairedWithSequenceNumber: 0, ipAddress: [203, 0, 113, 9], port: 9)!),
        .punchMeNow(
            PunchMeNowFrame(
                round: 1 << 33, pairedWithSequenceNumber: 70000,
                ipAddress: [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1], port: 65535)!),
        .removeAddress(sequenceNumber: 0),
        .removeAddress(sequenceNumber: VarInt.maxValue),
    ]
}()

final class FrameRoundTripTests: XCTestCase {
    func testEveryFrameRoundTrips() throws {
        for frame in sampleFrames {
            let bytes = encodeFrame(frame)
            XCTAssertEqual(try decodeSingleFrame(bytes), frame)
            if case .padding = frame { continue }
            var reader = ByteReader(bytes)
            XCTAssertEqual(try reader.readVarInt(), frame.frameType, "\(frame)")
        }
    }

    func testFrameSequenceDecodes() throws {
        let frames = sampleFrames.filter { if case .padding = $0 { false } else { true } } + [.padding(length: 9)]
        var bytes: [UInt8] = []
        for frame in frames { bytes += encodeFrame(frame) }
        XCTAssertEqual(try Frame.decodeAll(bytes), frames)
        assertThrowsWireError { _ = try Frame.decodeAll([]) }
    }

    func testConsecutivePaddingIsOneFrame() throws {
        let bytes: [UInt8] = [0, 0, 0, 0, 1, 0, 0]
        XCTAssertEqual(try Frame.decodeAll(bytes), [.padding(length: 4), .ping, .padding(length: 2)])
    }

    func testStreamFrameVariantsWithoutLengthOrOffset() throws {
        // Type 0x08: no offset, no length, data runs to the end.
        XCTAssertEqual(
            try decodeSingleFrame([0x08, 0x04, 0xaa, 0xbb]),
            .stream(StreamFrame(streamID: 4, offset: 0, data: [0xaa, 0xbb], fin: false)))
        // Type 0x0d: offset + fin, no length.
        XCTAssertEqual(
            try decodeSingleFrame([0x0d, 0x04, 0x05, 0xaa]),
            .stream(StreamFrame(streamID: 4, offset: 5, data: [0xaa], fin: true)))
        // DATAGRAM 0x30 runs to the end.
        XCTAssertEqual(try decodeSingleFrame([0x30, 1, 2]), .datagram(data: [1, 2]))
    }

    func testZeroCopyHeaders() throws {
        let payload: [UInt8] = Array(repeating: 7, count: 300)
        let streamBytes = ByteWriter.encode(capacity: 400) { writer in
            StreamFrame.encodeHeader(streamID: 4, offset: 1000, length: payload.count, fin: true, into: &writer)
            XCTAssertEqual(writer.position, StreamFrame.headerLength(streamID: 4, offset: 1000, length: payload.count))
            writer.writeBytes(payload)
        }
        XCTAssertEqual(
            try decodeSingleFrame(streamBytes),
            .stream(StreamFrame(streamID: 4, offset: 1000, data: ArraySlice(payload), fin: true)))
        XCTAssertEqual(StreamFrame.headerLength(streamID: 4, offset: 0, length: 10), 3)

        let cryptoBytes = ByteWriter.encode(capacity: 400) { writer in
            CryptoFrame.encodeHeader(offset: 64, length: payload.count, into: &writer)
            XCTAssertEqual(writer.position, CryptoFrame.headerLength(offset: 64, length: payload.count))
            writer.writeBytes(payload)
        }
        XCTAssertEqual(try decodeSingleFrame(cryptoBytes), .crypto(offset: 64, data: ArraySlice(payload)))

        let datagramBytes = ByteWriter.encode(capacity: 400) { writer in
            DatagramFrame.encodeHeader(length: payload.count, into: &writer)
            XCTAssertEqual(writer.position, DatagramFrame.headerLength(length: payload.count))
            writer.writeBytes(payload)
        }
        XCTAssertEqual(datagramBytes.first, 0x31)
        XCTAssertEqual(try decodeSingleFrame(datagramBytes), .datagram(data: ArraySlice(payload)))
    }

    func testAckRangesDecode() throws {
        // Largest 20, delay 0, 2 more ranges, first range 2 -> 18...20; gap 1, len 3 -> 12...15; gap 0, len 0 -> 10.
        let bytes: [UInt8] = [0x02, 20, 0, 2, 2, 1, 3, 0, 0]
        guard case .ack(let ack) = try decodeSingleFrame(bytes) else { return XCTFail("not an ACK") }
        XCTAssertEqual(ack.ranges, [18...20, 12...15, 10...10])
        XCTAssertEqual(ack.largestAcknowledged, 20)
        XCTAssertEqual(encodeFrame(.ack(ack)), bytes)
    }

    func testAckTruncationDropsOldestRanges() throws {
        var ranges: [ClosedRange<UInt64>] = []
        var high: UInt64 = 1_000_000
        for _ in 0..<200 {
            ranges.append((high - 5)...high)
            high -= 1000
        }
        let ack = AckFrame(largestAcknowledged: 1_000_000, ackDelay: 10, ranges: ranges)
        XCTAssertEqual(ack.truncated(toFit: ack.encodedLength), ack)
        let small = try XCTUnwrap(ack.truncated(toFit: 100))
        XCTAssertLessThanOrEqual(small.encodedLength, 100)
        XCTAssertEqual(Array(ack.ranges.prefix(small.ranges.count)), small.ranges)
        XCTAssertNotNil(ack.truncated(toFit: 101).map { $0.encodedLength <= 101 })
        let one = AckFrame(largestAcknowledged: 1_000_000, ackDelay: 10, ranges: [ranges[0]])
        XCTAssertEqual(ack.truncated(toFit: one.encodedLength)?.ranges.count, 1)
        XCTAssertNil(ack.truncated(toFit: one.encodedLength - 1))
        XCTAssertEqual(try decodeSingleFrame(encodeFrame(.ack(small))), .ack(small))
    }

    func testAckElicitingAndPacketTypes() {
        XCTAssertFalse(Frame.padding(length: 1).isAckEliciting)
        XCTAssertFalse(Frame.ack(AckFrame(largestAcknowledged: 0, ackDelay: 0, ranges: [0...0])).isAckEliciting)
        XCTAssertFalse(Frame.connectionClose(ConnectionCloseFrame(isApplicationError: true, errorCode: 0)).isAckEliciting)
        XCTAssertTrue(Frame.ping.isAckEliciting)
        XCTAssertTrue(Frame.maxData(1).isAckEliciting)

        let transportClose = Frame.connectionClose(ConnectionCloseFrame(isApplicationError: false, errorCode: 1))
        let applicationClose = Frame.connectionClose(ConnectionCloseFrame(isApplicationError: true, errorCode: 1))
        for type in [PacketType.initial, .handshake] {
            XCTAssertTrue(Frame.padding(length: 1).isAllowed(in: type))
            XCTAssertTrue(Frame.ping.isAllowed(in: type))
            XCTAssertTrue(Frame.crypto(offset: 0, data: [1]).isAllowed(in: type))
            XCTAssertTrue(transportClose.isAllowed(in: type))
            XCTAssertFalse(applicationClose.isAllowed(in: type))
            XCTAssertFalse(Frame.handshakeDone.isAllowed(in: type))
            XCTAssertFalse(Frame.datagram(data: []).isAllowed(in: type))
            XCTAssertFalse(Frame.maxData(1).isAllowed(in: type))
        }
        XCTAssertFalse(Frame.ack(AckFrame(largestAcknowledged: 0, ackDelay: 0, ranges: [0...0])).isAllowed(in: .zeroRTT))
        XCTAssertFalse(Frame.crypto(offset: 0, data: [1]).isAllowed(in: .zeroRTT))
        XCTAssertFalse(Frame.handshakeDone.isAllowed(in: .zeroRTT))
        XCTAssertFalse(Frame.newToken(token: [1]).isAllowed(in: .zeroRTT))
        XCTAssertFalse(Frame.pathResponse(data: 1).isAllowed(in: .zeroRTT))
        XCTAssertFalse(Frame.retireConnectionID(sequenceNumber: 1).isAllowed(in: .zeroRTT))
        XCTAssertTrue(Frame.stream(StreamFrame(streamID: 0, offset: 0, data: [], fin: true)).isAllowed(in: .zeroRTT))
        XCTAssertTrue(applicationClose.isAllowed(in: .zeroRTT))
        for frame in sampleFrames {
            XCTAssertTrue(frame.isAllowed(in: .oneRTT))
            XCTAssertFalse(frame.isAllowed(in: .retry))
        }
    }
}

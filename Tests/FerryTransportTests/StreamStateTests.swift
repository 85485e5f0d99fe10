import FerryTransport
import FerryWire
import XCTest

/// Send- and receive-side state machines (RFC 9000 §3.1, §3.2).
final class StreamStateTests: XCTestCase {
    private func openBidirectional(_ pair: StreamPair) throws -> StreamID {
        try XCTUnwrap(pair.client.openStream(bidirectional: true))
    }

    // MARK: Sending part

    func testSendReadySendDataSentDataReceived() throws {
        let pair = StreamPair()
        let id = try openBidirectional(pair)
        XCTAssertEqual(pair.client.sendState(of: id), .ready)
        XCTAssertEqual(try pair.client.write(id, streamTestBytes(offset: 0, count: 3000)), 3000)
        XCTAssertEqual(pair.client.sendState(of: id), .ready)
        let first = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(pair.client.sendState(of: id), .send)
        try pair.client.finish(id)
        var packets = [first]
        while let packet = streamTestPacket(from: pair.client) { packets.append(packet) }
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
        for packet in packets.dropLast() {
            for frame in packet.sentFrames { pair.client.onAcknowledged(frame) }
        }
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
        for frame in packets[packets.count - 1].sentFrames { pair.client.onAcknowledged(frame) }
        // Send side done; the receive side keeps the stream alive.
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived)
    }

    func testSendFinOnlyFromReady() throws {
        let pair = StreamPair()
        let id = try openBidirectional(pair)
        try pair.client.finish(id)
        XCTAssertEqual(pair.client.sendState(of: id), .ready)
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(packet.sentFrames, [.stream(id, offset: 0, length: 0, fin: true)])
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
    }

    func testSendResetFromReadySendAndDataSent() throws {
        for stage in 0..<3 {
            let pair = StreamPair()
            let id = try openBidirectional(pair)
            var written = 0
            if stage >= 1 {
                written = try pair.client.write(id, streamTestBytes(offset: 0, count: 100))
                _ = streamTestPacket(from: pair.client)
            }
            if stage == 2 {
                try pair.client.finish(id)
                _ = streamTestPacket(from: pair.client)
                XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
            }
            try pair.client.resetStream(id, errorCode: 9)
            XCTAssertEqual(pair.client.sendState(of: id), .resetSent, "stage \(stage)")
            let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
            XCTAssertEqual(packet.frames, [.resetStream(streamID: id.rawValue, applicationErrorCode: 9,
                                                        finalSize: UInt64(written))])
            pair.client.onAcknowledged(.resetStream(id))
            XCTAssertEqual(pair.client.sendState(of: id), .resetReceived, "stage \(stage)")
        }
    }

    func testResetAfterDataReceivedIsIgnored() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: false))
        _ = try pair.client.write(id, [1, 2, 3])
        try pair.client.finish(id)
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        for frame in packet.sentFrames { pair.client.onAcknowledged(frame) }
        // Unidirectional and fully acknowledged: the stream is gone.
        XCTAssertNil(pair.client.sendState(of: id))
        XCTAssertThrowsError(try pair.client.resetStream(id, errorCode: 1))
    }

    func testWriteErrorsAfterFinishAndReset() throws {
        let pair = StreamPair()
        let id = try openBidirectional(pair)
        try pair.client.finish(id)
        XCTAssertThrowsError(try pair.client.write(id, [1])) { XCTAssertEqual($0 as? StreamError, .finished(id)) }
        XCTAssertThrowsError(try pair.client.finish(id)) { XCTAssertEqual($0 as? StreamError, .finished(id)) }
        let other = try openBidirectional(pair)
        try pair.client.resetStream(other, errorCode: 3)
        XCTAssertThrowsError(try pair.client.write(other, [1])) {
            XCTAssertEqual($0 as? StreamError, .closedLocally(other))
        }
        let unknown = StreamID(index: 40, initiator: .client, isBidirectional: true)
        XCTAssertThrowsError(try pair.client.write(unknown, [1])) {
            XCTAssertEqual($0 as? StreamError, .unknownStream(unknown))
        }
    }

    // MARK: Receiving part

    func testReceiveRecvSizeKnownDataReceivedDataRead() throws {
        let pair = StreamPair()
        let id = try openBidirectional(pair)
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 2500))
        try pair.client.finish(id)
        let packets = [streamTestPacket(from: pair.client), streamTestPacket(from: pair.client),
                       streamTestPacket(from: pair.client)].compactMap { $0 }
        XCTAssertEqual(packets.count, 3)
        try streamTestDeliver(packets[0], to: pair.server)
        XCTAssertEqual(pair.server.receiveState(of: id), .receive)
        XCTAssertEqual(streamTestEvents(pair.server), [.opened(id), .readable(id)])
        try streamTestDeliver(packets[2], to: pair.server)  // carries FIN, out of order
        XCTAssertEqual(pair.server.receiveState(of: id), .sizeKnown)
        try streamTestDeliver(packets[1], to: pair.server)
        XCTAssertEqual(pair.server.receiveState(of: id), .dataReceived)
        let (bytes, finished) = try streamTestReadAll(pair.server, id)
        XCTAssertTrue(finished)
        XCTAssertEqual(bytes, streamTestBytes(offset: 0, count: 2500))
        XCTAssertEqual(pair.server.receiveState(of: id), .dataRead)
        XCTAssertEqual(try pair.server.read(id, maxLength: 10), .finished)
    }

    func testReceiveResetInRecvAndSizeKnown() throws {
        for sizeKnown in [false, true] {
            let pair = StreamPair()
            let id = try openBidirectional(pair)
            _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 100))
            if sizeKnown { try pair.client.finish(id) }
            try streamTestPump(from: pair.client, to: pair.server)
            XCTAssertEqual(pair.server.receiveState(of: id), sizeKnown ? .dataReceived : .receive)
            if sizeKnown { continue }
            try pair.server.handleResetStream(streamID: id.rawValue, errorCode: 77, finalSize: 100)
            XCTAssertEqual(pair.server.receiveState(of: id), .resetReceived)
            XCTAssertEqual(streamTestEvents(pair.server).last, .reset(id, errorCode: 77))
            XCTAssertThrowsError(try pair.server.read(id, maxLength: 10)) {
                XCTAssertEqual($0 as? StreamError, .resetByPeer(id, errorCode: 77))
            }
            XCTAssertEqual(pair.server.receiveState(of: id), .resetRead)
        }
        // Size Known → Reset Recvd: FIN seen, data missing.
        let pair = StreamPair()
        let id = StreamID(index: 0, initiator: .client, isBidirectional: true)
        try pair.server.handleStream(StreamFrame(streamID: id.rawValue, offset: 50, data: ArraySlice(streamTestBytes(offset: 50, count: 50)), fin: true))
        XCTAssertEqual(pair.server.receiveState(of: id), .sizeKnown)
        try pair.server.handleResetStream(streamID: id.rawValue, errorCode: 5, finalSize: 100)
        XCTAssertEqual(pair.server.receiveState(of: id), .resetReceived)
    }

    func testStopSendingDiscardsAndPeerResets() throws {
        let pair = StreamPair()
        let id = try openBidirectional(pair)
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 1000))
        try streamTestPump(from: pair.client, to: pair.server)
        _ = streamTestEvents(pair.server)
        try pair.server.stopSending(id, errorCode: 42)
        XCTAssertThrowsError(try pair.server.read(id, maxLength: 10)) {
            XCTAssertEqual($0 as? StreamError, .closedLocally(id))
        }
        try streamTestPump(from: pair.server, to: pair.client)
        XCTAssertEqual(streamTestEvents(pair.client), [.stopped(id, errorCode: 42)])
        XCTAssertEqual(pair.client.sendState(of: id), .resetSent)
        XCTAssertThrowsError(try pair.client.write(id, [1])) {
            XCTAssertEqual($0 as? StreamError, .stoppedByPeer(id, errorCode: 42))
        }
        let packets = try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(packets.first?.frames,
                       [.resetStream(streamID: id.rawValue, applicationErrorCode: 42, finalSize: 1000)])
        XCTAssertEqual(pair.client.sendState(of: id), .resetReceived)
        XCTAssertEqual(pair.server.receiveState(of: id), .resetRead)
    }

    func testStreamForgottenWhenBothSidesFinish() throws {
        let pair = StreamPair()
        let id = try openBidirectional(pair)
        _ = try pair.client.write(id, [1, 2, 3])
        try pair.client.finish(id)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(try streamTestReadAll(pair.server, id).bytes, [1, 2, 3])
        _ = try pair.server.write(id, [4])
        try pair.server.finish(id)
        try streamTestPump(from: pair.server, to: pair.client)
        XCTAssertEqual(pair.server.activeStreamCount, 0)
        XCTAssertEqual(try streamTestReadAll(pair.client, id).bytes, [4])
        XCTAssertEqual(pair.client.activeStreamCount, 0)
    }
}

import FerryTransport
import FerryWire
import XCTest

/// The stream state transitions of RFC 9000 §3.1 (sending part, figure 2) and §3.2 (receiving part, figure 3)
/// that `StreamStateTests` does not already walk: how each part is created, the optional and ignored
/// transitions, and frames arriving in terminal states.
final class StreamStateTransitionTests: XCTestCase {
    private let clientBidi0 = StreamID(index: 0, initiator: .client, isBidirectional: true)

    // MARK: Sending part (§3.1)

    func testPeerCreatedBidirectionalStreamStartsSendingPartInReady() throws {
        let pair = StreamPair()
        try pair.server.handleStream(StreamFrame(streamID: clientBidi0.rawValue, offset: 0, data: [1, 2], fin: false))
        XCTAssertEqual(pair.server.sendState(of: clientBidi0), .ready, "figure 2: Peer Creates Bidirectional Stream")
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .receive)
    }

    func testStreamDataBlockedMovesReadyToSend() throws {
        // No stream credit: the sender can only announce that it is blocked (RFC 9000 §19.13).
        let pair = StreamPair(server: streamTestConfiguration(maxStreamData: 0))
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        XCTAssertEqual(try pair.client.write(id, [1, 2, 3]), 3)
        XCTAssertEqual(pair.client.sendState(of: id), .ready)
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertTrue(packet.frames.contains(.streamDataBlocked(streamID: id.rawValue, limit: 0)),
                      "\(packet.frames)")
        XCTAssertEqual(pair.client.sendState(of: id), .send, "figure 2: Send STREAM_DATA_BLOCKED")
    }

    func testStopSendingInReadyResetsWithoutData() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        XCTAssertEqual(pair.client.sendState(of: id), .ready)
        try pair.client.handleStopSending(streamID: id.rawValue, errorCode: 11)
        XCTAssertEqual(pair.client.sendState(of: id), .resetSent)
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(packet.frames, [.resetStream(streamID: id.rawValue, applicationErrorCode: 11, finalSize: 0)])
    }

    func testStopSendingInDataSentResets() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 500))
        try pair.client.finish(id)
        _ = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
        try pair.client.handleStopSending(streamID: id.rawValue, errorCode: 12)
        XCTAssertEqual(pair.client.sendState(of: id), .resetSent)
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(packet.frames, [.resetStream(streamID: id.rawValue, applicationErrorCode: 12, finalSize: 500)])
    }

    func testStopSendingAfterDataReceivedChangesNothing() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, [1, 2, 3])
        try pair.client.finish(id)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived)
        try pair.client.handleStopSending(streamID: id.rawValue, errorCode: 13)
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived, "a terminal state")
        XCTAssertNil(streamTestPacket(from: pair.client), "no RESET_STREAM for a fully acknowledged stream")
    }

    func testLostResetStreamIsSentAgainUntilAcknowledged() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, [1, 2, 3])
        _ = streamTestPacket(from: pair.client)
        try pair.client.resetStream(id, errorCode: 4)
        let first = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(first.frames, [.resetStream(streamID: id.rawValue, applicationErrorCode: 4, finalSize: 3)])
        for frame in first.sentFrames { pair.client.onLost(frame) }
        XCTAssertEqual(pair.client.sendState(of: id), .resetSent, "stays Reset Sent until the ACK")
        let again = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(again.frames, first.frames)
        for frame in again.sentFrames { pair.client.onAcknowledged(frame) }
        XCTAssertEqual(pair.client.sendState(of: id), .resetReceived)
    }

    func testLostDataInDataSentIsRetransmittedBeforeDataReceived() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 100))
        try pair.client.finish(id)
        let first = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
        for frame in first.sentFrames { pair.client.onLost(frame) }
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
        let again = try XCTUnwrap(streamTestPacket(from: pair.client))
        try streamTestDeliver(again, to: pair.server)
        for frame in again.sentFrames { pair.client.onAcknowledged(frame) }
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived)
        XCTAssertEqual(try streamTestReadAll(pair.server, id).bytes, streamTestBytes(offset: 0, count: 100))
    }

    // MARK: Receiving part (§3.2): how it is created

    func testStreamDataBlockedOpensReceivingPart() throws {
        let pair = StreamPair()
        _ = try pair.server.handle(.streamDataBlocked(streamID: clientBidi0.rawValue, limit: 0))
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .receive)
        XCTAssertEqual(streamTestEvents(pair.server).first, .opened(clientBidi0))
    }

    func testResetStreamAsFirstFrameGoesStraightToResetReceived() throws {
        let pair = StreamPair()
        try pair.server.handleResetStream(streamID: clientBidi0.rawValue, errorCode: 21, finalSize: 40)
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .resetReceived)
        XCTAssertEqual(streamTestEvents(pair.server), [.opened(clientBidi0), .reset(clientBidi0, errorCode: 21)])
        XCTAssertThrowsError(try pair.server.read(clientBidi0, maxLength: 10)) {
            XCTAssertEqual($0 as? StreamError, .resetByPeer(clientBidi0, errorCode: 21))
        }
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .resetRead)
    }

    func testMaxStreamDataAndStopSendingOpenPeerBidirectionalStream() throws {
        for useStopSending in [false, true] {
            let pair = StreamPair()
            if useStopSending {
                try pair.server.handleStopSending(streamID: clientBidi0.rawValue, errorCode: 3)
            } else {
                try pair.server.handleMaxStreamData(streamID: clientBidi0.rawValue, maximum: 1 << 20)
            }
            XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .receive, "figure 3, stop: \(useStopSending)")
            XCTAssertEqual(streamTestEvents(pair.server).first, .opened(clientBidi0))
        }
    }

    func testHigherNumberedStreamOpensLowerOnes() throws {
        let pair = StreamPair()
        let third = StreamID(index: 2, initiator: .client, isBidirectional: true)
        try pair.server.handleStream(StreamFrame(streamID: third.rawValue, offset: 0, data: [9], fin: true))
        let events = streamTestEvents(pair.server)
        for index in 0..<3 {
            let id = StreamID(index: UInt64(index), initiator: .client, isBidirectional: true)
            XCTAssertTrue(events.contains(.opened(id)), "\(id) opened: \(events)")
        }
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .receive)
        XCTAssertEqual(pair.server.receiveState(of: third), .dataReceived)
    }

    // MARK: Receiving part: optional and ignored transitions

    func testResetStreamInDataReceivedKeepsTheData() throws {
        // RFC 9000 §3.2: with all data received, an implementation may ignore RESET_STREAM; Ferry does, so the
        // application still reads everything.
        let pair = StreamPair()
        try pair.server.handleStream(StreamFrame(streamID: clientBidi0.rawValue, offset: 0, data: [1, 2, 3], fin: true))
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .dataReceived)
        try pair.server.handleResetStream(streamID: clientBidi0.rawValue, errorCode: 5, finalSize: 3)
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .dataReceived)
        let (bytes, finished) = try streamTestReadAll(pair.server, clientBidi0)
        XCTAssertEqual(bytes, [1, 2, 3])
        XCTAssertTrue(finished)
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .dataRead)
    }

    func testFramesAfterDataReadAreIgnored() throws {
        let pair = StreamPair()
        let frame = StreamFrame(streamID: clientBidi0.rawValue, offset: 0, data: [1, 2, 3], fin: true)
        try pair.server.handleStream(frame)
        _ = try streamTestReadAll(pair.server, clientBidi0)
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .dataRead)
        _ = streamTestEvents(pair.server)
        try pair.server.handleStream(frame)  // a retransmission
        try pair.server.handleResetStream(streamID: clientBidi0.rawValue, errorCode: 6, finalSize: 3)
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .dataRead)
        XCTAssertEqual(streamTestEvents(pair.server), [], "nothing new for the application")
    }

    func testLateDataAfterResetIsIgnored() throws {
        let pair = StreamPair()
        try pair.server.handleResetStream(streamID: clientBidi0.rawValue, errorCode: 7, finalSize: 10)
        _ = streamTestEvents(pair.server)
        try pair.server.handleStream(StreamFrame(streamID: clientBidi0.rawValue, offset: 0, data: [1, 2, 3], fin: false))
        try pair.server.handleResetStream(streamID: clientBidi0.rawValue, errorCode: 7, finalSize: 10)
        XCTAssertEqual(pair.server.receiveState(of: clientBidi0), .resetReceived)
        XCTAssertEqual(streamTestEvents(pair.server), [], "no duplicate reset or readable events")
    }

    func testFinalSizeMustNotChange() {
        // RFC 9000 §4.5: any change to a known final size is FINAL_SIZE_ERROR.
        let pair = StreamPair()
        let id = clientBidi0.rawValue
        assertTransportError(.finalSizeError) {
            try pair.server.handleStream(StreamFrame(streamID: id, offset: 0, data: [1, 2, 3], fin: true))
            try pair.server.handleStream(StreamFrame(streamID: id, offset: 0, data: [1, 2, 3, 4], fin: true))
        }
        let other = StreamPair()
        assertTransportError(.finalSizeError) {
            try other.server.handleStream(StreamFrame(streamID: id, offset: 0, data: [1, 2, 3], fin: true))
            try other.server.handleResetStream(streamID: id, errorCode: 0, finalSize: 2)
        }
    }
}

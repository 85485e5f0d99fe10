import FerryTransport
import FerryWire
import XCTest

/// Peer-input validation, flow control, stream limits, scheduling and loss handling of `StreamManager`.
final class StreamManagerTests: XCTestCase {
    private let clientBidi0 = StreamID(index: 0, initiator: .client, isBidirectional: true)

    private func streamFrame(_ id: StreamID, offset: UInt64 = 0, count: Int, fin: Bool = false) -> StreamFrame {
        StreamFrame(streamID: id.rawValue, offset: offset,
                    data: ArraySlice(streamTestBytes(offset: Int(offset), count: count)), fin: fin)
    }

    // MARK: Errors from bad peer input

    func testStreamStateErrors() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration())
        server.applyPeerParameters(streamTestParameters())
        let serverUni = try XCTUnwrap(server.openStream(bidirectional: false))
        // STREAM / RESET_STREAM / STREAM_DATA_BLOCKED on our own send-only stream.
        assertTransportError(.streamStateError) { try server.handleStream(self.streamFrame(serverUni, count: 1)) }
        assertTransportError(.streamStateError) {
            try server.handleResetStream(streamID: serverUni.rawValue, errorCode: 0, finalSize: 0)
        }
        assertTransportError(.streamStateError) {
            _ = try server.handle(.streamDataBlocked(streamID: serverUni.rawValue, limit: 0))
        }
        // Any frame on a locally-initiated stream we have not opened.
        let unopened = StreamID(index: 3, initiator: .server, isBidirectional: true)
        assertTransportError(.streamStateError) { try server.handleStream(self.streamFrame(unopened, count: 1)) }
        assertTransportError(.streamStateError) {
            try server.handleMaxStreamData(streamID: unopened.rawValue, maximum: 10)
        }
        // STOP_SENDING / MAX_STREAM_DATA on the peer's unidirectional (receive-only) stream.
        let clientUni = StreamID(index: 0, initiator: .client, isBidirectional: false)
        assertTransportError(.streamStateError) {
            try server.handleStopSending(streamID: clientUni.rawValue, errorCode: 0)
        }
        assertTransportError(.streamStateError) {
            try server.handleMaxStreamData(streamID: clientUni.rawValue, maximum: 10)
        }
    }

    func testStreamLimitError() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration(maxStreamsBidi: 2, maxStreamsUni: 1))
        try server.handleStream(streamFrame(StreamID(index: 1, initiator: .client, isBidirectional: true), count: 1))
        assertTransportError(.streamLimitError) {
            try server.handleStream(self.streamFrame(StreamID(index: 2, initiator: .client, isBidirectional: true), count: 1))
        }
        assertTransportError(.streamLimitError) {
            try server.handleStopSending(
                streamID: StreamID(index: 5, initiator: .client, isBidirectional: true).rawValue, errorCode: 0)
        }
        assertTransportError(.streamLimitError) {
            try server.handleStream(self.streamFrame(StreamID(index: 1, initiator: .client, isBidirectional: false), count: 1))
        }
    }

    func testFlowControlErrors() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 3000, maxStreamData: 1000))
        assertTransportError(.flowControlError) { try server.handleStream(self.streamFrame(self.clientBidi0, count: 1001)) }
        let second = StreamID(index: 1, initiator: .client, isBidirectional: true)
        let third = StreamID(index: 2, initiator: .client, isBidirectional: true)
        let fourth = StreamID(index: 3, initiator: .client, isBidirectional: true)
        let server2 = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 2500, maxStreamData: 1000))
        try server2.handleStream(streamFrame(clientBidi0, count: 1000))
        try server2.handleStream(streamFrame(second, count: 1000))
        // A reset's final size counts against connection credit too.
        assertTransportError(.flowControlError) {
            try server2.handleResetStream(streamID: third.rawValue, errorCode: 0, finalSize: 501)
        }
        let server3 = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 2500, maxStreamData: 1000))
        try server3.handleStream(streamFrame(clientBidi0, count: 1000))
        try server3.handleStream(streamFrame(second, count: 1000))
        assertTransportError(.flowControlError) { try server3.handleStream(self.streamFrame(fourth, offset: 500, count: 1)) }
    }

    func testFinalSizeErrors() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration())
        try server.handleStream(streamFrame(clientBidi0, count: 100, fin: true))
        assertTransportError(.finalSizeError) { try server.handleStream(self.streamFrame(self.clientBidi0, offset: 100, count: 1)) }
        assertTransportError(.finalSizeError) { try server.handleStream(self.streamFrame(self.clientBidi0, count: 50, fin: true)) }
        assertTransportError(.finalSizeError) {
            try server.handleResetStream(streamID: self.clientBidi0.rawValue, errorCode: 0, finalSize: 99)
        }
        let other = StreamID(index: 1, initiator: .client, isBidirectional: true)
        try server.handleStream(streamFrame(other, count: 100))
        assertTransportError(.finalSizeError) { try server.handleStream(self.streamFrame(other, count: 10, fin: true)) }
        assertTransportError(.finalSizeError) {
            try server.handleResetStream(streamID: other.rawValue, errorCode: 0, finalSize: 99)
        }
        try server.handleResetStream(streamID: other.rawValue, errorCode: 0, finalSize: 100)
        assertTransportError(.finalSizeError) {
            try server.handleResetStream(streamID: other.rawValue, errorCode: 0, finalSize: 101)
        }
    }

    func testMaxStreamsAboveLimitIsFrameEncodingError() {
        let client = StreamManager(side: .client)
        assertTransportError(.frameEncodingError) { try client.handleMaxStreams(bidirectional: true, maximum: (1 << 60) + 1) }
        assertTransportError(.frameEncodingError) { try client.handleStreamsBlocked(bidirectional: false, limit: (1 << 60) + 1) }
    }

    func testImplicitOpeningOfLowerStreams() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration())
        let third = StreamID(index: 2, initiator: .client, isBidirectional: true)
        try server.handleStream(streamFrame(third, count: 5))
        XCTAssertEqual(streamTestEvents(server), [
            .opened(clientBidi0), .opened(StreamID(index: 1, initiator: .client, isBidirectional: true)),
            .opened(third), .readable(third),
        ])
        XCTAssertEqual(server.receiveState(of: clientBidi0), .receive)
        // MAX_STREAM_DATA for a peer stream not yet opened opens it too.
        let fourth = StreamID(index: 3, initiator: .client, isBidirectional: true)
        try server.handleMaxStreamData(streamID: fourth.rawValue, maximum: 10)
        XCTAssertEqual(streamTestEvents(server), [.opened(fourth)])
    }

    // MARK: Stream limits

    func testOpenStreamLimitStreamsBlockedAndAvailable() throws {
        let pair = StreamPair(server: streamTestConfiguration(maxStreamsBidi: 2))
        XCTAssertNotNil(pair.client.openStream(bidirectional: true))
        let second = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        XCTAssertNil(pair.client.openStream(bidirectional: true))
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(packet.frames, [.streamsBlocked(bidirectional: true, limit: 2)])
        // Finish stream 0 in both directions so the server raises its limit.
        let first = clientBidi0
        try pair.client.finish(first)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertTrue(try streamTestReadAll(pair.server, first).finished)
        try pair.server.finish(first)
        let serverPackets = try streamTestPump(from: pair.server, to: pair.client)
        XCTAssertTrue(serverPackets.flatMap(\.frames).contains(.maxStreams(bidirectional: true, maximum: 3)))
        XCTAssertEqual(pair.server.localMaxStreams(bidirectional: true), 3)
        XCTAssertTrue(streamTestEvents(pair.client).contains(.streamsAvailable(bidirectional: true)))
        let third = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        XCTAssertEqual(third.index, 2)
        XCTAssertNotEqual(second, third)
    }

    // MARK: Flow control credit and window updates

    func testStreamAndConnectionWindowUpdates() throws {
        let pair = StreamPair(server: streamTestConfiguration(maxData: 8000, maxStreamData: 4000))
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        XCTAssertEqual(try pair.client.write(id, streamTestBytes(offset: 0, count: 20_000)), 20_000)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(pair.client.sendCredit(of: id)?.used, 4000)
        // Blocked on the stream limit: STREAM_DATA_BLOCKED was sent.
        XCTAssertEqual(pair.server.receiveState(of: id), .receive)
        XCTAssertEqual(try pair.server.read(id, maxLength: 1000), .data(streamTestBytes(offset: 0, count: 1000)))
        XCTAssertNil(streamTestPacket(from: pair.server))  // 3000 of 4000 still open: no update
        XCTAssertEqual(try pair.server.read(id, maxLength: 1500), .data(streamTestBytes(offset: 1000, count: 1500)))
        let update = try XCTUnwrap(streamTestPacket(from: pair.server))
        XCTAssertEqual(update.frames, [.maxStreamData(streamID: id.rawValue, maximum: 6500)])
        try streamTestDeliver(update, to: pair.client)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(pair.client.sendCredit(of: id)?.used, 6500)
        var received = streamTestBytes(offset: 0, count: 2500)
        while received.count < 20_000 {
            let (bytes, _) = try streamTestReadAll(pair.server, id)
            received += bytes
            try streamTestPump(from: pair.server, to: pair.client)
            try streamTestPump(from: pair.client, to: pair.server)
            if bytes.isEmpty { break }
        }
        XCTAssertEqual(received, streamTestBytes(offset: 0, count: 20_000))
        XCTAssertGreaterThan(pair.server.connectionReceiveWindow.limit, 8000)
    }

    func testBlockedFramesReportedOncePerLimit() throws {
        let pair = StreamPair(server: streamTestConfiguration(maxData: 1000, maxStreamData: 600))
        let a = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        let b = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(a, streamTestBytes(offset: 0, count: 2000))
        _ = try pair.client.write(b, streamTestBytes(offset: 0, count: 2000))
        let packets = try streamTestPump(from: pair.client, to: pair.server)
        let frames = packets.flatMap(\.frames)
        XCTAssertEqual(frames.filter { if case .streamDataBlocked = $0 { true } else { false } },
                       [.streamDataBlocked(streamID: a.rawValue, limit: 600)])
        XCTAssertEqual(frames.filter { if case .dataBlocked = $0 { true } else { false } }, [.dataBlocked(limit: 1000)])
        XCTAssertEqual(pair.client.connectionSendCredit.used, 1000)
        XCTAssertNil(streamTestPacket(from: pair.client))
        // MAX_DATA unblocks stream b.
        try pair.client.handle(.maxData(1500))
        XCTAssertEqual(streamTestPacket(from: pair.client)?.sentFrames, [.stream(b, offset: 400, length: 200, fin: false)])
    }

    func testPeerExceedingWindowAfterUpdateStillFails() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 100_000, maxStreamData: 1000))
        try server.handleStream(streamFrame(clientBidi0, count: 1000))
        _ = try server.read(clientBidi0, maxLength: 600)
        let update = try XCTUnwrap(streamTestPacket(from: server))
        XCTAssertEqual(update.frames, [.maxStreamData(streamID: clientBidi0.rawValue, maximum: 1600)])
        try server.handleStream(streamFrame(clientBidi0, offset: 1000, count: 600))
        assertTransportError(.flowControlError) { try server.handleStream(self.streamFrame(self.clientBidi0, offset: 1600, count: 1)) }
    }

    // MARK: Fairness

    func testRoundRobinAcrossStreams() throws {
        let pair = StreamPair()
        let ids = (0..<3).compactMap { _ in pair.client.openStream(bidirectional: true) }
        for id in ids { _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 100_000)) }
        var order: [StreamID] = []
        for _ in 0..<9 {
            let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
            guard case .stream(let id, _, _, _) = packet.sentFrames.first else { return XCTFail("no stream frame") }
            order.append(id)
        }
        XCTAssertEqual(order, ids + ids + ids)
    }

    func testSmallStreamsShareAPacket() throws {
        let pair = StreamPair()
        let ids = (0..<4).compactMap { _ in pair.client.openStream(bidirectional: false) }
        for id in ids {
            _ = try pair.client.write(id, [1, 2, 3])
            try pair.client.finish(id)
        }
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(packet.sentFrames, ids.map { .stream($0, offset: 0, length: 3, fin: true) })
    }

    // MARK: Loss and retransmission

    func testLossRetransmitsExactlyLostRanges() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 5000))
        try pair.client.finish(id)
        var packets: [StreamTestPacket] = []
        while let packet = streamTestPacket(from: pair.client) { packets.append(packet) }
        XCTAssertEqual(packets.count, 5)
        var lostFrames: [SentFrame] = []
        for (index, packet) in packets.enumerated() {
            if index == 1 || index == 4 {
                lostFrames += packet.sentFrames
                packet.sentFrames.forEach(pair.client.onLost)
            } else {
                try streamTestDeliver(packet, to: pair.server)
                packet.sentFrames.forEach(pair.client.onAcknowledged)
            }
        }
        var retransmitted: [SentFrame] = []
        while let packet = streamTestPacket(from: pair.client) {
            retransmitted += packet.sentFrames
            try streamTestDeliver(packet, to: pair.server)
            packet.sentFrames.forEach(pair.client.onAcknowledged)
        }
        XCTAssertEqual(retransmitted, lostFrames)
        let (bytes, finished) = try streamTestReadAll(pair.server, id)
        XCTAssertTrue(finished)
        XCTAssertEqual(bytes, streamTestBytes(offset: 0, count: 5000))
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived)
    }

    func testResetDiscardsDataAndLostDataIsNotResent() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 3000))
        let first = try XCTUnwrap(streamTestPacket(from: pair.client))
        try pair.client.resetStream(id, errorCode: 7)
        XCTAssertEqual(pair.client.bufferedSendCount(of: id), 0)
        first.sentFrames.forEach(pair.client.onLost)
        let next = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(next.sentFrames, [.resetStream(id)])
        let sentBytes = first.sentFrames.reduce(0) { total, frame in
            if case .stream(_, _, let length, _) = frame { total + length } else { total }
        }
        XCTAssertEqual(sentBytes, 1196)
        XCTAssertEqual(next.frames, [.resetStream(streamID: id.rawValue, applicationErrorCode: 7,
                                                  finalSize: UInt64(sentBytes))])
        // A lost RESET_STREAM is resent; nothing else is.
        pair.client.onLost(.resetStream(id))
        XCTAssertEqual(streamTestPacket(from: pair.client)?.sentFrames, [.resetStream(id)])
        XCTAssertNil(streamTestPacket(from: pair.client))
    }

    func testResetReceivedReleasesConnectionCredit() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 2000, maxStreamData: 2000))
        try server.handleStream(streamFrame(clientBidi0, count: 500))
        try server.handleResetStream(streamID: clientBidi0.rawValue, errorCode: 1, finalSize: 1500)
        XCTAssertEqual(server.connectionReceiveWindow.consumed, 1500)
        let packet = try XCTUnwrap(streamTestPacket(from: server))
        XCTAssertEqual(packet.frames, [.maxData(3500)])
    }

    func testLostControlFramesCarryLatestValues() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 2000, maxStreamData: 2000))
        try server.handleStream(streamFrame(clientBidi0, count: 2000))
        _ = try server.read(clientBidi0, maxLength: 1500)
        let first = try XCTUnwrap(streamTestPacket(from: server))
        XCTAssertEqual(first.sentFrames, [.maxData, .maxStreamData(clientBidi0)])
        _ = try server.read(clientBidi0, maxLength: 100)
        first.sentFrames.forEach(server.onLost)
        let resent = try XCTUnwrap(streamTestPacket(from: server))
        XCTAssertEqual(resent.frames, [.maxData(3600), .maxStreamData(streamID: clientBidi0.rawValue, maximum: 3600)])
    }

    func testWritableAfterAcknowledgementFreesBuffer() throws {
        let pair = StreamPair(client: streamTestConfiguration(sendBufferLimit: 2000))
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        XCTAssertEqual(try pair.client.write(id, streamTestBytes(offset: 0, count: 3000)), 2000)
        XCTAssertEqual(try pair.client.write(id, [1]), 0)
        XCTAssertTrue(streamTestEvents(pair.client).isEmpty)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(streamTestEvents(pair.client), [.writable(id)])
        XCTAssertEqual(try pair.client.write(id, streamTestBytes(offset: 2000, count: 1000)), 1000)
    }

    func testConnectionClosedFailsCommands() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        pair.client.close()
        XCTAssertThrowsError(try pair.client.write(id, [1])) { XCTAssertEqual($0 as? StreamError, .connectionClosed) }
        XCTAssertThrowsError(try pair.client.read(id, maxLength: 1)) { XCTAssertEqual($0 as? StreamError, .connectionClosed) }
        XCTAssertNil(pair.client.openStream(bidirectional: true))
        XCTAssertFalse(pair.client.hasPendingTransmit)
    }
}

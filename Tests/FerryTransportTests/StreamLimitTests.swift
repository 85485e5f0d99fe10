import FerryTransport
import FerryWire
import XCTest

/// MAX_STREAMS raising, STOP_SENDING in later send states, events and window tuning.
final class StreamLimitTests: XCTestCase {
    func testUnidirectionalLimitRaisedAsPeerStreamsFinish() throws {
        let pair = StreamPair(server: streamTestConfiguration(maxStreamsUni: 3))
        var opened: [StreamID] = []
        while let id = pair.client.openStream(bidirectional: false) { opened.append(id) }
        XCTAssertEqual(opened.count, 3)
        for id in opened {
            _ = try pair.client.write(id, [9])
            try pair.client.finish(id)
        }
        try streamTestPump(from: pair.client, to: pair.server)
        // Nothing read yet: the streams are still open on the server, so no new credit.
        XCTAssertEqual(pair.server.localMaxStreams(bidirectional: false), 3)
        for id in opened.prefix(2) { XCTAssertTrue(try streamTestReadAll(pair.server, id).finished) }
        XCTAssertEqual(pair.server.localMaxStreams(bidirectional: false), 5)
        let packets = try streamTestPump(from: pair.server, to: pair.client)
        XCTAssertEqual(packets.flatMap(\.frames), [.maxStreams(bidirectional: false, maximum: 5)])
        XCTAssertEqual(pair.client.peerMaxStreams(bidirectional: false), 5)
        XCTAssertNotNil(pair.client.openStream(bidirectional: false))
        XCTAssertNotNil(pair.client.openStream(bidirectional: false))
        XCTAssertNil(pair.client.openStream(bidirectional: false))
        // A lost MAX_STREAMS is resent with the current value.
        XCTAssertTrue(try streamTestReadAll(pair.server, opened[2]).finished)
        pair.server.onLost(.maxStreams(bidirectional: false))
        XCTAssertEqual(streamTestPacket(from: pair.server)?.frames, [.maxStreams(bidirectional: false, maximum: 6)])
    }

    func testStopSendingAfterEverythingAcknowledgedIsIgnored() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, [1, 2])
        try pair.client.finish(id)
        try streamTestPump(from: pair.client, to: pair.server)
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived)
        try pair.client.handleStopSending(streamID: id.rawValue, errorCode: 4)
        XCTAssertEqual(pair.client.sendState(of: id), .dataReceived)
        XCTAssertNil(streamTestPacket(from: pair.client))
        XCTAssertTrue(streamTestEvents(pair.client).isEmpty)
    }

    func testStopSendingInDataSentResetsStream() throws {
        let pair = StreamPair()
        let id = try XCTUnwrap(pair.client.openStream(bidirectional: true))
        _ = try pair.client.write(id, streamTestBytes(offset: 0, count: 500))
        try pair.client.finish(id)
        let packet = try XCTUnwrap(streamTestPacket(from: pair.client))
        XCTAssertEqual(pair.client.sendState(of: id), .dataSent)
        try pair.client.handleStopSending(streamID: id.rawValue, errorCode: 8)
        XCTAssertEqual(pair.client.sendState(of: id), .resetSent)
        packet.sentFrames.forEach(pair.client.onLost)  // data of a reset stream is not resent
        XCTAssertEqual(streamTestPacket(from: pair.client)?.frames,
                       [.resetStream(streamID: id.rawValue, applicationErrorCode: 8, finalSize: 500)])
    }

    func testReadableSignalledOnceUntilRead() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration())
        let id = StreamID(index: 0, initiator: .client, isBidirectional: true)
        for index in 0..<3 {
            try server.handleStream(StreamFrame(streamID: id.rawValue, offset: UInt64(index * 10),
                                                data: ArraySlice(streamTestBytes(offset: index * 10, count: 10)), fin: false))
        }
        XCTAssertEqual(streamTestEvents(server), [.opened(id), .readable(id)])
        XCTAssertEqual(try streamTestReadAll(server, id).bytes, streamTestBytes(offset: 0, count: 30))
        try server.handleStream(StreamFrame(streamID: id.rawValue, offset: 30, data: [], fin: true))
        XCTAssertEqual(streamTestEvents(server), [.readable(id)])
        XCTAssertEqual(try server.read(id, maxLength: 10), .finished)
    }

    func testOutOfOrderDataIsNotReadableUntilGapFills() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration())
        let id = StreamID(index: 0, initiator: .client, isBidirectional: false)
        try server.handleStream(StreamFrame(streamID: id.rawValue, offset: 10,
                                            data: ArraySlice(streamTestBytes(offset: 10, count: 10)), fin: false))
        XCTAssertEqual(streamTestEvents(server), [.opened(id)])
        XCTAssertEqual(try server.read(id, maxLength: 100), .blocked)
        try server.handleStream(StreamFrame(streamID: id.rawValue, offset: 0,
                                            data: ArraySlice(streamTestBytes(offset: 0, count: 10)), fin: false))
        XCTAssertEqual(streamTestEvents(server), [.readable(id)])
        XCTAssertEqual(try server.read(id, maxLength: 100), .data(streamTestBytes(offset: 0, count: 20)))
        XCTAssertThrowsError(try server.write(id, [1])) { XCTAssertEqual($0 as? StreamError, .wrongDirection(id)) }
    }

    func testWindowTuningHookGrowsAdvertisedWindow() throws {
        let server = StreamManager(side: .server, configuration: StreamManager.Configuration(
            initialMaxData: 1000, initialMaxStreamDataBidiLocal: 1000, initialMaxStreamDataBidiRemote: 1000,
            initialMaxStreamDataUni: 1000, maxConnectionWindow: 4000, maxStreamWindow: 4000))
        let id = StreamID(index: 0, initiator: .client, isBidirectional: true)
        try server.handleStream(StreamFrame(streamID: id.rawValue, offset: 0,
                                            data: ArraySlice(streamTestBytes(offset: 0, count: 1000)), fin: false))
        _ = try server.read(id, maxLength: 100)
        XCTAssertNil(streamTestPacket(from: server))
        server.tuneConnectionReceiveWindow { $0.growWindow(); $0.growWindow(); $0.growWindow() }
        server.tuneReceiveWindow(of: id) { $0.windowSize = 10_000 }
        XCTAssertEqual(server.connectionReceiveWindow.windowSize, 4000)
        XCTAssertEqual(server.receiveWindow(of: id)?.windowSize, 4000)
        XCTAssertEqual(streamTestPacket(from: server)?.frames,
                       [.maxData(4100), .maxStreamData(streamID: id.rawValue, maximum: 4100)])
    }
}

/// Abuse resistance of reassembly.
final class StreamReassemblyLimitTests: XCTestCase {
    func testScatteredTinyFramesAreRejected() throws {
        let server = StreamManager(side: .server, configuration: streamTestConfiguration(maxData: 1 << 24, maxStreamData: 1 << 24))
        let id = StreamID(index: 0, initiator: .client, isBidirectional: true)
        for index in 1...StreamManager.maximumReceiveGaps {
            try server.handleStream(StreamFrame(streamID: id.rawValue, offset: UInt64(index * 2), data: [1], fin: false))
        }
        assertTransportError(.protocolViolation) {
            try server.handleStream(StreamFrame(streamID: id.rawValue, offset: 1 << 20, data: [1], fin: false))
        }
        // Filling gaps is still fine.
        try server.handleStream(StreamFrame(streamID: id.rawValue, offset: 0, data: [0, 0], fin: false))
    }
}

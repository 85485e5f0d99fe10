import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Peer input that breaks RFC 9000 closes the connection with the error code §19/§20.1 names, sent in an
/// authenticated 1-RTT packet over the simulated network (the codes `ProtocolViolationTests` does not cover).
final class ProtocolViolationCodeTests: XCTestCase {
    private let letter: UInt8 = 0x61

    private func expect(
        _ payload: [UInt8], from sender: SimulatedNetwork.Role = .client, _ codes: TransportError.Code...,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let probe = try ViolationProbe(file: file, line: line)
        let reason = try probe.receiverCloseReason(afterSending: payload, from: sender)
        assertTransportClose(reason, codes, by: .local, file: file, line: line)
        // The violator learns the same code from the CONNECTION_CLOSE frame.
        assertTransportClose(probe.closeReason(of: sender), codes, by: .peer, file: file, line: line)
    }

    // MARK: FLOW_CONTROL_ERROR (§4.1, §19.8, §19.4)

    func testStreamDataBeyondStreamWindowIsFlowControlError() throws {
        try expect([0x0e, 0x00] + quicVarint(16 << 20) + [0x01, letter], .flowControlError)
    }

    func testStreamDataBeyondConnectionWindowIsFlowControlError() throws {
        // Five streams each just inside their 4 MiB window add up past the 16 MiB connection window.
        var payload: [UInt8] = []
        for index in 0..<5 {
            payload += [0x0e] + quicVarint(UInt64(index) * 4) + quicVarint((4 << 20) - 1) + [0x01, letter]
        }
        try expect(payload, .flowControlError)
    }

    func testResetFinalSizeBeyondWindowIsFlowControlError() throws {
        try expect([0x04, 0x00, 0x00] + quicVarint(1 << 30), .flowControlError)
    }

    // MARK: FINAL_SIZE_ERROR (§4.5)

    func testDataBeyondFinalSizeIsFinalSizeError() throws {
        try expect([0x0b, 0x00, 0x03, 1, 2, 3] + [0x0e, 0x00, 0x03, 0x01, letter], .finalSizeError)
    }

    func testResetBelowReceivedDataIsFinalSizeError() throws {
        try expect([0x0a, 0x00] + quicVarint(100) + [UInt8](repeating: 7, count: 100) + [0x04, 0x00, 0x00, 50],
                   .finalSizeError)
    }

    func testResetChangingFinalSizeIsFinalSizeError() throws {
        try expect([0x0b, 0x00, 0x03, 1, 2, 3] + [0x04, 0x00, 0x00, 20], .finalSizeError)
    }

    // MARK: STREAM_STATE_ERROR (§3, §19.4–19.13)

    func testResetStreamOnPeersSendOnlyStreamIsStreamStateError() throws {
        // Stream 3 is server-initiated unidirectional: the client never sends on it, so it cannot reset it.
        try expect([0x04, 0x03, 0x00, 0x00], .streamStateError)
    }

    func testMaxStreamDataOnReceiveOnlyStreamIsStreamStateError() throws {
        // Stream 2 is client-initiated unidirectional: the server only receives on it.
        try expect([0x11, 0x02] + quicVarint(1000), .streamStateError)
    }

    func testStopSendingOnReceiveOnlyStreamIsStreamStateError() throws {
        try expect([0x05, 0x02, 0x00], .streamStateError)
    }

    func testStreamFrameOnUnopenedLocalStreamIsStreamStateError() throws {
        // Stream 1 is server-initiated bidirectional and the server has not opened it.
        try expect([0x08, 0x01, letter], .streamStateError)
    }

    func testMaxStreamDataOnUnopenedLocalStreamIsStreamStateError() throws {
        try expect([0x11, 0x01] + quicVarint(1000), .streamStateError)
    }

    func testStreamDataBlockedOnPeersSendOnlyStreamIsStreamStateError() throws {
        try expect([0x15, 0x03, 0x00], .streamStateError)
    }

    func testStreamFrameOnClientSendOnlyStreamFromServerIsStreamStateError() throws {
        // Server to client: stream 2 is the client's own unidirectional stream.
        try expect([0x08, 0x02, letter], from: .server, .streamStateError)
    }

    // MARK: STREAM_LIMIT_ERROR and stream-count encoding (§4.6, §19.11, §19.14)

    func testUnidirectionalStreamBeyondLimitIsStreamLimitError() throws {
        // Client unidirectional stream index 100 (id 402); the server allows 100.
        try expect([0x08] + quicVarint(402) + [letter], .streamLimitError)
    }

    func testMaxStreamsAboveTwoToTheSixtyIsFrameEncodingError() throws {
        try expect([0x12] + quicVarint((1 << 60) + 1, length: 8), .frameEncodingError)
    }

    func testStreamsBlockedAboveTwoToTheSixtyIsRejected() throws {
        try expect([0x16] + quicVarint((1 << 60) + 1, length: 8), .streamLimitError, .frameEncodingError)
    }

    // MARK: FRAME_ENCODING_ERROR (§12.4, §19)

    func testAckRangeBelowZeroIsFrameEncodingError() throws {
        // Largest acknowledged 5 with a first range of 10 would reach below packet 0 (§19.3.1).
        try expect([0x02, 0x05, 0x00, 0x00, 0x0a], .frameEncodingError)
    }

    func testNewConnectionIDWithBadLengthIsFrameEncodingError() throws {
        for length: UInt8 in [0, 21] {
            try expect([0x18, 0x01, 0x00, length] + [UInt8](repeating: 0xAB, count: Int(length))
                + [UInt8](repeating: 0xEE, count: 16), .frameEncodingError)
        }
    }

    func testNewConnectionIDRetirePriorToAboveSequenceIsFrameEncodingError() throws {
        try expect([0x18, 0x01, 0x02, 0x08] + [UInt8](repeating: 0xAB, count: 8) + [UInt8](repeating: 0xEE, count: 16),
                   .frameEncodingError)
    }

    func testStreamOffsetPastTwoToTheSixtyTwoIsRejected() throws {
        try expect([0x0e, 0x00] + quicVarint((1 << 62) - 1) + [0x01, letter], .frameEncodingError, .flowControlError)
    }

    func testEmptyNewTokenFromServerIsFrameEncodingError() throws {
        try expect([0x07, 0x00], from: .server, .frameEncodingError)
    }

    // MARK: PROTOCOL_VIOLATION (§12.4, §19.7, §19.16, RFC 9221 §3)

    func testNewTokenFromClientIsProtocolViolation() throws {
        try expect([0x07, 0x04, 1, 2, 3, 4], .protocolViolation)
    }

    func testPacketWithoutFramesIsProtocolViolation() throws {
        try expect([], .protocolViolation)
    }

    func testRetiringUnissuedConnectionIDIsProtocolViolation() throws {
        try expect([0x19] + quicVarint(50), .protocolViolation)
    }

    func testOversizedDatagramFrameIsProtocolViolation() throws {
        var transport = TransportConfig()
        transport.maxDatagramFrameSize = 100
        let probe = try ViolationProbe(network: SimulatedNetwork(transport: transport))
        let payload = [0x31] + quicVarint(200) + [UInt8](repeating: 1, count: 200)
        let reason = try probe.receiverCloseReason(afterSending: payload, from: .client)
        assertTransportClose(reason, [.protocolViolation])
    }

    func testUnadvertisedDatagramFrameIsProtocolViolation() throws {
        var transport = TransportConfig()
        transport.maxDatagramFrameSize = nil
        let probe = try ViolationProbe(network: SimulatedNetwork(transport: transport))
        let reason = try probe.receiverCloseReason(afterSending: [0x30, 1, 2, 3], from: .client)
        assertTransportClose(reason, [.protocolViolation])
    }

    // MARK: CRYPTO_BUFFER_EXCEEDED (§7.5)

    func testCryptoDataFarAheadIsCryptoBufferExceeded() throws {
        try expect([0x06] + quicVarint(1 << 20) + [0x01, 0x00], .cryptoBufferExceeded)
    }

    // MARK: Codes the peer reports (§20.1): surfaced with the code, frame type and reason

    func testPeerCloseWithNoErrorIsReportedAsNoError() throws {
        let probe = try ViolationProbe()
        let reason = try probe.receiverCloseReason(afterSending: [0x1c, 0x00, 0x00, 0x00], from: .client)
        assertTransportClose(reason, [.noError], by: .peer)
    }

    func testPeerInternalErrorKeepsFrameTypeAndReason() throws {
        let probe = try ViolationProbe()
        let reason = try probe.receiverCloseReason(
            afterSending: [0x1c, 0x01, 0x08, 0x03] + Array("abc".utf8), from: .server)
        assertTransportClose(reason, [.internalError], by: .peer)
        guard case .transportError(let error, _)? = reason else { return }
        XCTAssertEqual(error.frameType, 0x08)
        XCTAssertEqual(error.reason, "abc")
    }

    func testApplicationCloseDuringHandshakeIsSentAsApplicationError() throws {
        // Before 1-RTT keys the application's code must not leak: CONNECTION_CLOSE 0x1c with APPLICATION_ERROR
        // (RFC 9000 §10.2.3).
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try network.connect()
        network.step()  // the client's Initial leaves
        network.step()  // and reaches the server, which answers
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertFalse(client.isHandshakeConfirmed)
        client.close(errorCode: 77, reason: "changed my mind", now: network.now)
        harness.run(timeLimit: .seconds(2)) { harness.closedEvents.contains { $0.0 == .server } }
        assertTransportClose(harness.closedEvents.first { $0.0 == .server }?.1, [.applicationError], by: .peer)
    }

    // MARK: TRANSPORT_PARAMETER_ERROR (§7.4, §18.2)

    private func handshakeCloseReasons(
        clientParameters: [UInt8]? = nil, serverParameters: [UInt8]? = nil
    ) throws -> (client: ConnectionCloseReason?, server: ConnectionCloseReason?) {
        var clientCrypto = TestCryptoProvider(identitySeed: 1)
        clientCrypto.transportParametersOverride = clientParameters
        var serverCrypto = TestCryptoProvider(identitySeed: 2)
        serverCrypto.transportParametersOverride = serverParameters
        let network = SimulatedNetwork(
            clientConfig: EndpointConfig(crypto: clientCrypto), serverConfig: EndpointConfig(crypto: serverCrypto))
        let harness = StreamHarness(network: network)
        _ = try network.connect()
        harness.run(timeLimit: .seconds(3)) {
            harness.closedEvents.contains { $0.0 == .client } && harness.closedEvents.contains { $0.0 == .server }
        }
        return (harness.closedEvents.first { $0.0 == .client }?.1, harness.closedEvents.first { $0.0 == .server }?.1)
    }

    func testMalformedServerParametersAreTransportParameterError() throws {
        // initial_max_data (id 4) claims 8 bytes but carries 1.
        let reasons = try handshakeCloseReasons(serverParameters: [0x04, 0x08, 0x01])
        assertTransportClose(reasons.client, [.transportParameterError])
    }

    func testMissingInitialSourceConnectionIDIsTransportParameterError() throws {
        let parameters = TransportParameters(initialMaxData: 1 << 20, initialMaxStreamsBidi: 10).encoded()
        let reasons = try handshakeCloseReasons(serverParameters: parameters)
        assertTransportClose(reasons.client, [.transportParameterError])
    }

    func testMismatchedInitialSourceConnectionIDFromClientIsTransportParameterError() throws {
        // RFC 9000 §7.3: it must equal the Source Connection ID of the client's Initial packets.
        var parameters = TransportParameters(initialMaxData: 1 << 20, initialMaxStreamsBidi: 10)
        parameters.initialSourceConnectionID = ConnectionID([UInt8](repeating: 0x42, count: 8))
        let reasons = try handshakeCloseReasons(clientParameters: parameters.encoded())
        assertTransportClose(reasons.server, [.transportParameterError])
    }

    func testMissingInitialSourceConnectionIDFromClientIsTransportParameterError() throws {
        let parameters = TransportParameters(initialMaxData: 1 << 20, initialMaxStreamsBidi: 10).encoded()
        let reasons = try handshakeCloseReasons(clientParameters: parameters)
        assertTransportClose(reasons.server, [.transportParameterError])
    }

    func testServerOnlyParameterFromClientIsTransportParameterError() throws {
        // original_destination_connection_id (id 0) may only come from a server (§18.2).
        let reasons = try handshakeCloseReasons(clientParameters: [0x00, 0x08] + [UInt8](repeating: 0x42, count: 8))
        assertTransportClose(reasons.server, [.transportParameterError])
    }
}

import XCTest
import FerryTestSupport
@testable import FerryTransport

/// A peer that breaks the rules gets the right transport error code (RFC 9000 §20.1), never a crash.
final class ProtocolViolationTests: XCTestCase {
    /// Builds a 1-RTT packet with `payload` as its frames, protected with `connection`'s current write keys.
    func craftOneRTTPacket(from connection: TransportConnection, payload: [UInt8]) throws -> [UInt8] {
        let space = connection.space(.application)
        let keys = try XCTUnwrap(space.localKeys)
        let packetNumber = space.nextPacketNumber
        space.nextPacketNumber += 1
        var body = payload
        while body.count < 8 { body.append(0) }  // PADDING so the header-protection sample exists
        let capacity = 64 + body.count + keys.tagLength
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        var writer = ByteWriter(buffer)
        PacketWriter.writeShortHeader(
            into: &writer, destinationConnectionID: connection.destinationConnectionID, packetNumber: packetNumber,
            packetNumberLength: 4, keyPhase: connection.keyPhase)
        let packetNumberOffset = writer.position - 4
        writer.writeBytes(body)
        let payloadEnd = writer.position
        try keys.seal(
            packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: packetNumberOffset + 4,
            payloadEnd: payloadEnd)
        let mask = try keys.headerProtectionMask(
            sample: UnsafeRawBufferPointer(rebasing: buffer[(packetNumberOffset + 4)..<(packetNumberOffset + 20)]))
        buffer[0] ^= mask.first & 0x1f
        buffer[packetNumberOffset] ^= mask.packetNumber.0
        buffer[packetNumberOffset + 1] ^= mask.packetNumber.1
        buffer[packetNumberOffset + 2] ^= mask.packetNumber.2
        buffer[packetNumberOffset + 3] ^= mask.packetNumber.3
        return Array(buffer[0..<(payloadEnd + keys.tagLength)])
    }

    /// Establishes a connection, sends `frames` from the client in a 1-RTT packet, and returns the server's
    /// close reason.
    func serverCloseReason(afterClientSends frames: [UInt8], file: StaticString = #filePath, line: UInt = #line)
        throws -> ConnectionCloseReason?
    {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish(file: file, line: line)
        let client = try XCTUnwrap(network.client.connection(handle))
        let packet = try craftOneRTTPacket(from: client, payload: frames)
        network.inject(packet, to: .server, delay: .milliseconds(1))
        harness.run(timeLimit: .seconds(2)) { harness.closedEvents.contains { $0.0 == .server } }
        return harness.closedEvents.first { $0.0 == .server }?.1
    }

    func expectServerError(_ frames: [UInt8], code: TransportError.Code, file: StaticString = #filePath, line: UInt = #line) throws {
        let reason = try serverCloseReason(afterClientSends: frames, file: file, line: line)
        guard case .transportError(let error, let by)? = reason else {
            return XCTFail("expected a transport error, got \(String(describing: reason))", file: file, line: line)
        }
        XCTAssertEqual(error.code, code, file: file, line: line)
        XCTAssertEqual(by, .local, file: file, line: line)
    }

    func testHandshakeDoneFromClientIsProtocolViolation() throws {
        try expectServerError([0x1e], code: .protocolViolation)
    }

    func testUnknownFrameTypeIsFrameEncodingError() throws {
        try expectServerError([0x40, 0x25], code: .frameEncodingError)
    }

    func testTruncatedFrameIsFrameEncodingError() throws {
        // MAX_DATA without its value... followed by nothing but the value is required: use a STREAM frame with a
        // length past the end of the packet.
        try expectServerError([0x0a, 0x00, 0x40, 0x50, 0x01], code: .frameEncodingError)
    }

    func testAckOfUnsentPacketIsProtocolViolation() throws {
        // ACK largest 1,000,000 (4-byte varint 0x800F4240), delay 0, 0 ranges, first range 0.
        try expectServerError([0x02, 0x80, 0x0f, 0x42, 0x40, 0x00, 0x00, 0x00], code: .protocolViolation)
    }

    func testTooManyConnectionIDsIsConnectionIDLimitError() throws {
        var frames: [UInt8] = []
        // Our limit is 4: the peer's handshake ID plus up to 3 more. Send 5 new ones (sequence 10...14).
        for sequence in 10..<15 {
            frames += [0x18, UInt8(sequence), 0x00, 8]
            frames += [UInt8](repeating: UInt8(sequence), count: 8)
            frames += [UInt8](repeating: 0xEE, count: 16)
        }
        try expectServerError(frames, code: .connectionIDLimitError)
    }

    func testStreamBeyondLimitIsStreamLimitError() throws {
        // Client bidi stream index 5000 (id 20000 = 0x4E20 as 2-byte varint 0x4E20|0x4000) exceeds 1024.
        try expectServerError([0x08, 0x80, 0x00, 0x4E, 0x20, 0x61], code: .streamLimitError)
    }

    func testStreamFrameOnServerSendOnlyStreamIsStreamStateError() throws {
        // Stream 3 is server-initiated unidirectional: the client cannot send on it.
        try expectServerError([0x08, 0x03, 0x61], code: .streamStateError)
    }

    func testGarbageDatagramsNeverCrash() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        var random = SystemRandomNumberGenerator()
        for length in [1, 2, 5, 20, 40, 100, 1200, 1500] {
            for _ in 0..<20 {
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                // Half of them carry the client's real connection ID so they reach the connection.
                if length > 10 && Bool.random(using: &random) {
                    bytes[0] = 0x40 | (bytes[0] & 0x3f)
                    let id = client.sourceConnectionID.bytes
                    for (index, byte) in id.enumerated() where index + 1 < length { bytes[index + 1] = byte }
                }
                network.inject(bytes, to: .client)
                network.inject(bytes, to: .server)
            }
        }
        harness.run(timeLimit: .milliseconds(500)) { false }
        XCTAssertTrue(harness.closedEvents.isEmpty, "\(harness.closedEvents)")
    }
}

/// Peer-initiated key updates (RFC 9001 §6).
final class KeyUpdateTests: XCTestCase {
    func testServerFollowsClientKeyUpdate() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        harness.onStreamFinished = { role, handle, stream, bytes in
            guard role == .server else { return }
            harness.send(bytes, on: stream, role: .server, handle: handle)
        }
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let server = try XCTUnwrap(network.serverConnection)
        // The client moves to the next key phase for sending (as an updating peer does).
        let application = client.space(.application)
        application.localKeys = try XCTUnwrap(application.localKeys).makeNextKeyPhase()
        client.previousRemoteKeys = application.remoteKeys
        application.remoteKeys = try XCTUnwrap(application.remoteKeys).makeNextKeyPhase()
        client.nextRemoteKeys = nil
        client.keyPhase.toggle()
        client.currentPhaseFirstPacket = nil
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        let payload = patternBytes(count: 50_000)
        harness.send(payload, on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) {
            harness.finishedStreams[.client]?.contains(stream) ?? false
        }, "closed: \(harness.closedEvents)")
        XCTAssertTrue(server.keyPhase)
        XCTAssertTrue(harness.received[.client]?[stream] == payload)
    }
}

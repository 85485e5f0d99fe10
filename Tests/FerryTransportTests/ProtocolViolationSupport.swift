import FerryTestSupport
import XCTest

@testable import FerryTransport

/// A QUIC variable-length integer (RFC 9000 §16) in its shortest encoding, or the given length.
func quicVarint(_ value: UInt64, length: Int? = nil) -> [UInt8] {
    let size = length ?? (value < 1 << 6 ? 1 : value < 1 << 14 ? 2 : value < 1 << 30 ? 4 : 8)
    let prefix: UInt8 = size == 1 ? 0x00 : size == 2 ? 0x40 : size == 4 ? 0x80 : 0xC0
    var bytes = (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(size - 1 - $0))) }
    bytes[0] |= prefix
    return bytes
}

/// Builds a 1-RTT packet carrying exactly `payload` (no padding added), protected with `connection`'s current
/// write keys, as if the connection had sent it. A 4-byte packet number keeps the header-protection sample
/// inside the packet even for an empty payload (RFC 9001 §5.4.2).
///
/// Key update tests pass explicit `keys`, `keyPhase` and `packetNumber` to forge packets of another key phase;
/// without them the connection's current keys, phase and next packet number are used. `destinationConnectionID`
/// picks another of the peer's IDs than the one in use.
func craftProtectedOneRTTPacket(
    from connection: TransportConnection, keys explicitKeys: (any PacketProtector)? = nil, keyPhase: Bool? = nil,
    packetNumber explicitPacketNumber: UInt64? = nil, destinationConnectionID: ConnectionID? = nil, payload: [UInt8]
) throws -> [UInt8] {
    let space = connection.space(.application)
    let keys: any PacketProtector
    if let explicitKeys { keys = explicitKeys } else { keys = try XCTUnwrap(space.localKeys) }
    let packetNumber: UInt64
    if let explicitPacketNumber {
        packetNumber = explicitPacketNumber
    } else {
        packetNumber = space.nextPacketNumber
        space.nextPacketNumber += 1
    }
    let capacity = 64 + payload.count + keys.tagLength + 16
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
    defer { buffer.deallocate() }
    var writer = ByteWriter(buffer)
    PacketWriter.writeShortHeader(
        into: &writer, destinationConnectionID: destinationConnectionID ?? connection.destinationConnectionID,
        packetNumber: packetNumber,
        packetNumberLength: 4, keyPhase: keyPhase ?? connection.keyPhase)
    let packetNumberOffset = writer.position - 4
    writer.writeBytes(payload)
    let payloadEnd = writer.position
    try keys.seal(
        packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: packetNumberOffset + 4,
        payloadEnd: payloadEnd)
    let sampleStart = packetNumberOffset + 4
    let mask = try keys.headerProtectionMask(
        sample: UnsafeRawBufferPointer(rebasing: buffer[sampleStart..<(sampleStart + keys.sampleLength)]))
    buffer[0] ^= mask.first & 0x1f
    buffer[packetNumberOffset] ^= mask.packetNumber.0
    buffer[packetNumberOffset + 1] ^= mask.packetNumber.1
    buffer[packetNumberOffset + 2] ^= mask.packetNumber.2
    buffer[packetNumberOffset + 3] ^= mask.packetNumber.3
    return Array(buffer[0..<(payloadEnd + keys.tagLength)])
}

/// An established connection over `SimulatedNetwork` into which one side injects hand-made frames.
struct ViolationProbe {
    let network: SimulatedNetwork
    let harness: StreamHarness
    let clientHandle: ConnectionHandle

    init(
        network: SimulatedNetwork = SimulatedNetwork(), file: StaticString = #filePath, line: UInt = #line
    ) throws {
        self.network = network
        harness = StreamHarness(network: network)
        clientHandle = try harness.establish(file: file, line: line)
    }

    func connection(_ role: SimulatedNetwork.Role) throws -> TransportConnection {
        role == .client
            ? try XCTUnwrap(network.client.connection(clientHandle)) : try XCTUnwrap(network.serverConnection)
    }

    /// `sender` sends `payload` in one authenticated 1-RTT packet; returns the receiver's close reason (nil if
    /// it stayed open for a second of virtual time).
    func receiverCloseReason(afterSending payload: [UInt8], from sender: SimulatedNetwork.Role) throws
        -> ConnectionCloseReason?
    {
        let receiver: SimulatedNetwork.Role = sender == .client ? .server : .client
        let packet = try craftProtectedOneRTTPacket(from: try connection(sender), payload: payload)
        network.inject(packet, to: receiver, delay: .milliseconds(1))
        harness.run(timeLimit: .seconds(1)) { harness.closedEvents.contains { $0.0 == receiver } }
        return harness.closedEvents.first { $0.0 == receiver }?.1
    }

    /// The sender's close reason once the receiver's CONNECTION_CLOSE reached it.
    func closeReason(of role: SimulatedNetwork.Role) -> ConnectionCloseReason? {
        harness.run(timeLimit: .seconds(1)) { harness.closedEvents.contains { $0.0 == role } }
        return harness.closedEvents.first { $0.0 == role }?.1
    }
}

/// Asserts that `reason` is a transport error with one of `codes`, raised by `initiator`.
func assertTransportClose(
    _ reason: ConnectionCloseReason?, _ codes: [TransportError.Code], by initiator: CloseInitiator = .local,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard case .transportError(let error, let by)? = reason else {
        return XCTFail("expected a transport error \(codes), got \(String(describing: reason))", file: file, line: line)
    }
    XCTAssertTrue(codes.contains(error.code), "got \(error), expected one of \(codes)", file: file, line: line)
    XCTAssertEqual(by, initiator, file: file, line: line)
}

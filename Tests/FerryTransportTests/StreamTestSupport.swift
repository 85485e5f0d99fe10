import FerryTransport
import FerryWire
import XCTest

/// A deterministic generator for seeded randomised tests (SplitMix64).
struct StreamTestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Predictable payload bytes: byte `i` of a stream is `i % 251`.
func streamTestBytes(offset: Int, count: Int) -> [UInt8] {
    (0..<count).map { UInt8((offset + $0) % 251) }
}

/// Transport parameters granting the given limits.
func streamTestParameters(
    maxData: UInt64 = 1 << 20, maxStreamData: UInt64 = 1 << 18, maxStreamsBidi: UInt64 = 16,
    maxStreamsUni: UInt64 = 16
) -> TransportParameters {
    TransportParameters(
        initialMaxData: maxData, initialMaxStreamDataBidiLocal: maxStreamData,
        initialMaxStreamDataBidiRemote: maxStreamData, initialMaxStreamDataUni: maxStreamData,
        initialMaxStreamsBidi: maxStreamsBidi, initialMaxStreamsUni: maxStreamsUni)
}

/// A stream manager configuration with the same limits.
func streamTestConfiguration(
    maxData: UInt64 = 1 << 20, maxStreamData: UInt64 = 1 << 18, maxStreamsBidi: UInt64 = 16,
    maxStreamsUni: UInt64 = 16, sendBufferLimit: Int = 1 << 20
) -> StreamManager.Configuration {
    StreamManager.Configuration(
        initialMaxData: maxData, initialMaxStreamDataBidiLocal: maxStreamData,
        initialMaxStreamDataBidiRemote: maxStreamData, initialMaxStreamDataUni: maxStreamData,
        maxConcurrentBidirectionalStreams: maxStreamsBidi, maxConcurrentUnidirectionalStreams: maxStreamsUni,
        sendBufferLimit: sendBufferLimit)
}

/// A client and a server stream layer that have exchanged transport parameters.
struct StreamPair {
    let client: StreamManager
    let server: StreamManager

    init(
        client clientConfiguration: StreamManager.Configuration = streamTestConfiguration(),
        server serverConfiguration: StreamManager.Configuration = streamTestConfiguration()
    ) {
        client = StreamManager(side: .client, configuration: clientConfiguration)
        server = StreamManager(side: .server, configuration: serverConfiguration)
        client.applyPeerParameters(Self.parameters(serverConfiguration))
        server.applyPeerParameters(Self.parameters(clientConfiguration))
    }

    static func parameters(_ configuration: StreamManager.Configuration) -> TransportParameters {
        TransportParameters(
            initialMaxData: configuration.initialMaxData,
            initialMaxStreamDataBidiLocal: configuration.initialMaxStreamDataBidiLocal,
            initialMaxStreamDataBidiRemote: configuration.initialMaxStreamDataBidiRemote,
            initialMaxStreamDataUni: configuration.initialMaxStreamDataUni,
            initialMaxStreamsBidi: configuration.maxConcurrentBidirectionalStreams,
            initialMaxStreamsUni: configuration.maxConcurrentUnidirectionalStreams)
    }
}

/// One packet's payload built by a stream manager.
struct StreamTestPacket {
    var bytes: [UInt8]
    var sentFrames: [SentFrame]

    var frames: [Frame] { (try? Frame.decodeAll(bytes)) ?? [] }
}

/// Builds one packet payload of at most `capacity` bytes (nil when there was nothing to send).
func streamTestPacket(from manager: StreamManager, capacity: Int = 1200) -> StreamTestPacket? {
    var sentFrames: [SentFrame] = []
    let bytes = ByteWriter.encode(capacity: capacity) { writer in
        manager.writeFrames(into: &writer, sentFrames: &sentFrames)
    }
    return bytes.isEmpty ? nil : StreamTestPacket(bytes: bytes, sentFrames: sentFrames)
}

/// Decodes a packet payload and hands every frame to `manager`.
func streamTestDeliver(_ packet: StreamTestPacket, to manager: StreamManager) throws {
    for frame in try Frame.decodeAll(packet.bytes) {
        _ = try manager.handle(frame)
    }
}

/// Sends packets from `sender` to `receiver` (all delivered and acknowledged) until nothing is left or
/// `maxPackets` were sent. Returns the packets.
@discardableResult
func streamTestPump(
    from sender: StreamManager, to receiver: StreamManager, maxPackets: Int = 10_000, capacity: Int = 1200
) throws -> [StreamTestPacket] {
    var packets: [StreamTestPacket] = []
    while packets.count < maxPackets, let packet = streamTestPacket(from: sender, capacity: capacity) {
        try streamTestDeliver(packet, to: receiver)
        for frame in packet.sentFrames { sender.onAcknowledged(frame) }
        packets.append(packet)
    }
    return packets
}

/// All events queued on `manager`.
func streamTestEvents(_ manager: StreamManager) -> [StreamEvent] {
    var events: [StreamEvent] = []
    while let event = manager.pollEvent() { events.append(event) }
    return events
}

/// Reads everything readable now (until blocked or finished). Returns the bytes and whether FIN was reached.
func streamTestReadAll(_ manager: StreamManager, _ id: StreamID) throws -> (bytes: [UInt8], finished: Bool) {
    var bytes: [UInt8] = []
    while true {
        switch try manager.read(id, maxLength: 1 << 16) {
        case .data(let chunk): bytes += chunk
        case .finished: return (bytes, true)
        case .blocked: return (bytes, false)
        }
    }
}

/// Asserts that `body` throws a `TransportError` with `code`.
func assertTransportError(
    _ code: TransportError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected \(code)", file: file, line: line)
    } catch let error as TransportError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
    } catch {
        XCTFail("unexpected \(error)", file: file, line: line)
    }
}

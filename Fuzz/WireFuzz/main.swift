// libFuzzer target for FerryWire. Built by Scripts/fuzz-wire together with Sources/FerryWire/*.swift into one
// module, so FerryWire's types are used without an import.
//
// Each input is decoded as (1) a datagram of coalesced packet headers, (2) a frame sequence, and (3) transport
// parameters from either side. Decoders must never trap; successful decodes must also survive an encode/decode
// round trip, and any mismatch is reported as a crash so libFuzzer saves the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fuzzPacketHeaders(bytes)
    fuzzFrames(bytes)
    fuzzTransportParameters(bytes, sentBy: .client)
    fuzzTransportParameters(bytes, sentBy: .server)
    fuzzPacketNumbers(bytes)
    return 0
}

/// Walks coalesced packets the way the endpoint does, for the connection ID lengths Ferry uses.
func fuzzPacketHeaders(_ bytes: [UInt8]) {
    for connectionIDLength in [0, 8, 20] {
        var offset = 0
        while offset < bytes.count {
            guard
                let header = try? PacketHeader.parse(
                    bytes, at: offset, shortHeaderConnectionIDLength: connectionIDLength)
            else { break }
            guard header.packetEnd > offset || header.type == .initial || header.type == .handshake
                || header.type == .zeroRTT
            else { fatalError("packetEnd did not advance") }
            guard header.packetEnd <= bytes.count, header.packetNumberOffset <= bytes.count else {
                fatalError("header offsets out of range")
            }
            guard let routed = try? PacketHeader.destinationConnectionID(
                in: bytes, at: offset, shortHeaderConnectionIDLength: connectionIDLength),
                routed == header.destinationConnectionID
            else { fatalError("routing connection ID mismatch") }
            // A zero Length is legal on the wire; stop instead of looping forever on it.
            guard header.packetEnd > offset else { break }
            offset = header.packetEnd
        }
    }
}

/// Decodes a frame sequence and checks each frame re-encodes to something that decodes to the same frame.
func fuzzFrames(_ bytes: [UInt8]) {
    var reader = ByteReader(bytes)
    while !reader.isAtEnd {
        let start = reader.position
        guard let frame = try? Frame.decode(from: &reader) else { return }
        guard reader.position > start else { fatalError("frame decode did not advance") }
        _ = frame.isAckEliciting
        _ = frame.isAllowed(in: .initial)
        let encoded = ByteWriter.encode(capacity: frame.encodedLength) { frame.encode(into: &$0) }
        guard encoded.count == frame.encodedLength else { fatalError("encodedLength mismatch for \(frame)") }
        var again = ByteReader(encoded)
        guard let decoded = try? Frame.decode(from: &again), decoded == frame, again.isAtEnd else {
            fatalError("frame round trip failed for \(frame)")
        }
        if case .ack(let ack) = frame, let smaller = ack.truncated(toFit: max(ack.encodedLength - 3, 0)) {
            guard smaller.encodedLength <= max(ack.encodedLength - 3, 0) else { fatalError("ACK truncation too big") }
        }
    }
}

/// Decodes transport parameters and checks they survive an encode/decode round trip.
func fuzzTransportParameters(_ bytes: [UInt8], sentBy side: Side) {
    guard let parameters = try? TransportParameters.decode(bytes, sentBy: side) else { return }
    let encoded = parameters.encoded()
    guard let again = try? TransportParameters.decode(encoded, sentBy: side), again == parameters else {
        fatalError("transport parameter round trip failed")
    }
}

/// Packet number recovery must not trap for any input.
func fuzzPacketNumbers(_ bytes: [UInt8]) {
    guard bytes.count >= 17 else { return }
    var reader = ByteReader(bytes)
    guard let truncated = try? reader.readUInt64(), let largest = try? reader.readUInt64(),
        let length = try? reader.readUInt8()
    else { return }
    let value = PacketNumber.decode(truncated: truncated, length: Int(length % 6), largestReceived: largest)
    _ = PacketNumber.encodedLength(packetNumber: value, largestAcknowledged: largest)
    _ = PacketNumber.encodedLength(packetNumber: largest, largestAcknowledged: value)
}

extension Frame {
    /// Decodes one frame from untrusted bytes (RFC 9000 §12.4, §19; RFC 9221 §4).
    ///
    /// Every field is validated; a malformed or truncated frame throws `WireError.invalidFrame` or
    /// `.unknownFrameType` (both FRAME_ENCODING_ERROR), never traps. The frame type must use its shortest
    /// encoding (RFC 9000 §12.4).
    public static func decode(from reader: inout ByteReader) throws(WireError) -> Frame {
        let (type, width) = try reader.readVarIntWithLength()
        guard width == VarInt.encodedLength(type) else {
            throw .invalidFrame(type: type, reason: "frame type not minimally encoded")
        }
        do throws(WireError) {
            return try decodeBody(type: type, from: &reader)
        } catch {
            switch error {
            case .truncated, .invalidVarInt, .invalidPacket, .invalidTransportParameter:
                throw .invalidFrame(type: type, reason: "truncated")
            case .unknownFrameType, .invalidFrame:
                throw error
            }
        }
    }

    /// Decodes every frame in a packet payload; for tests and cold paths (allocates an array).
    ///
    /// RFC 9000 §12.4 requires at least one frame in a packet, so an empty payload is an error.
    public static func decodeAll(_ bytes: [UInt8], range: Range<Int>? = nil) throws(WireError) -> [Frame] {
        var reader = ByteReader(bytes, range: range)
        guard !reader.isAtEnd else { throw .invalidPacket("packet has no frames") }
        var frames: [Frame] = []
        while !reader.isAtEnd {
            frames.append(try decode(from: &reader))
        }
        return frames
    }

    private static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> Frame {
        switch type {
        case FrameType.padding:
            var length = 1
            let bytes = reader.bytes
            while reader.position < reader.endIndex, bytes[reader.position] == 0 {
                reader.position += 1
                length += 1
            }
            return .padding(length: length)
        case FrameType.ping:
            return .ping
        case FrameType.ack, FrameType.ackECN:
            return .ack(try AckFrame.decodeBody(type: type, from: &reader))
        case FrameType.resetStream:
            return .resetStream(
                streamID: try reader.readVarInt(), applicationErrorCode: try reader.readVarInt(),
                finalSize: try reader.readVarInt())
        case FrameType.stopSending:
            return .stopSending(streamID: try reader.readVarInt(), applicationErrorCode: try reader.readVarInt())
        case FrameType.crypto:
            return try CryptoFrame.decodeBody(from: &reader)
        case FrameType.newToken:
            let token = try reader.readVarIntPrefixedBytes()
            guard !token.isEmpty else { throw .invalidFrame(type: type, reason: "empty NEW_TOKEN") }
            return .newToken(token: token)
        case 0x08...0x0f:
            return .stream(try StreamFrame.decodeBody(type: type, from: &reader))
        case FrameType.maxData:
            return .maxData(try reader.readVarInt())
        case FrameType.maxStreamData:
            return .maxStreamData(streamID: try reader.readVarInt(), maximum: try reader.readVarInt())
        case FrameType.maxStreamsBidirectional, FrameType.maxStreamsUnidirectional:
            let maximum = try reader.readVarInt()
            guard maximum <= maxStreamCount else {
                throw .invalidFrame(type: type, reason: "maximum streams exceeds 2^60")
            }
            return .maxStreams(bidirectional: type == FrameType.maxStreamsBidirectional, maximum: maximum)
        case FrameType.dataBlocked:
            return .dataBlocked(limit: try reader.readVarInt())
        case FrameType.streamDataBlocked:
            return .streamDataBlocked(streamID: try reader.readVarInt(), limit: try reader.readVarInt())
        case FrameType.streamsBlockedBidirectional, FrameType.streamsBlockedUnidirectional:
            let limit = try reader.readVarInt()
            guard limit <= maxStreamCount else {
                throw .invalidFrame(type: type, reason: "stream limit exceeds 2^60")
            }
            return .streamsBlocked(bidirectional: type == FrameType.streamsBlockedBidirectional, limit: limit)
        case FrameType.newConnectionID:
            return .newConnectionID(try NewConnectionIDFrame.decodeBody(from: &reader))
        case FrameType.retireConnectionID:
            return .retireConnectionID(sequenceNumber: try reader.readVarInt())
        case FrameType.pathChallenge:
            return .pathChallenge(data: try reader.readUInt64())
        case FrameType.pathResponse:
            return .pathResponse(data: try reader.readUInt64())
        case FrameType.connectionCloseTransport, FrameType.connectionCloseApplication:
            return .connectionClose(try ConnectionCloseFrame.decodeBody(type: type, from: &reader))
        case FrameType.handshakeDone:
            return .handshakeDone
        case FrameType.datagram, FrameType.datagramWithLength:
            return try DatagramFrame.decodeBody(type: type, from: &reader)
        case FrameType.observedAddressIPv4, FrameType.observedAddressIPv6:
            return .observedAddress(try ObservedAddressFrame.decodeBody(type: type, from: &reader))
        case FrameType.addAddressIPv4, FrameType.addAddressIPv6:
            return .addAddress(try AddAddressFrame.decodeBody(type: type, from: &reader))
        case FrameType.punchMeNowIPv4, FrameType.punchMeNowIPv6:
            return .punchMeNow(try PunchMeNowFrame.decodeBody(type: type, from: &reader))
        case FrameType.removeAddress:
            return .removeAddress(sequenceNumber: try reader.readVarInt())
        default:
            throw .unknownFrameType(type)
        }
    }

    /// The largest stream count MAX_STREAMS and STREAMS_BLOCKED may carry: 2^60 (RFC 9000 §19.11, §19.14).
    public static let maxStreamCount: UInt64 = 1 << 60
}

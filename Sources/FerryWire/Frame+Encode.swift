extension Frame {
    /// The number of bytes `encode(into:)` writes.
    ///
    /// Lets the packet builder check `ByteWriter.remaining` before committing a frame.
    public var encodedLength: Int {
        switch self {
        case .padding(let length):
            return max(length, 0)
        case .ping, .handshakeDone:
            return 1
        case .ack(let ack):
            return ack.encodedLength
        case .resetStream(let streamID, let code, let finalSize):
            return 1 + VarInt.encodedLength(streamID) + VarInt.encodedLength(code) + VarInt.encodedLength(finalSize)
        case .stopSending(let streamID, let code):
            return 1 + VarInt.encodedLength(streamID) + VarInt.encodedLength(code)
        case .crypto(let offset, let data):
            return CryptoFrame.headerLength(offset: offset, length: data.count) + data.count
        case .newToken(let token):
            return 1 + VarInt.encodedLength(UInt64(token.count)) + token.count
        case .stream(let stream):
            return stream.encodedLength
        case .maxData(let value), .dataBlocked(let value), .retireConnectionID(let value):
            return 1 + VarInt.encodedLength(value)
        case .maxStreams(_, let value), .streamsBlocked(_, let value):
            return 1 + VarInt.encodedLength(value)
        case .maxStreamData(let streamID, let value), .streamDataBlocked(let streamID, let value):
            return 1 + VarInt.encodedLength(streamID) + VarInt.encodedLength(value)
        case .newConnectionID(let frame):
            return frame.encodedLength
        case .pathChallenge, .pathResponse:
            return 9
        case .connectionClose(let close):
            return close.encodedLength
        case .datagram(let data):
            return DatagramFrame.headerLength(length: data.count) + data.count
        case .observedAddress(let frame):
            return frame.encodedLength
        case .addAddress(let frame):
            return frame.encodedLength
        case .punchMeNow(let frame):
            return frame.encodedLength
        case .removeAddress(let sequenceNumber):
            return VarInt.encodedLength(FrameType.removeAddress) + VarInt.encodedLength(sequenceNumber)
        }
    }

    /// Writes the frame; the caller must have checked `encodedLength <= writer.remaining`.
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .padding(let length):
            writer.writeZeros(length)
        case .ping, .handshakeDone:
            writer.writeUInt8(UInt8(truncatingIfNeeded: frameType))
        case .ack(let ack):
            ack.encode(into: &writer)
        case .resetStream(let streamID, let code, let finalSize):
            writer.writeUInt8(UInt8(truncatingIfNeeded: FrameType.resetStream))
            writer.writeVarInt(streamID)
            writer.writeVarInt(code)
            writer.writeVarInt(finalSize)
        case .stopSending(let streamID, let code):
            writer.writeUInt8(UInt8(truncatingIfNeeded: FrameType.stopSending))
            writer.writeVarInt(streamID)
            writer.writeVarInt(code)
        case .crypto(let offset, let data):
            CryptoFrame.encodeHeader(offset: offset, length: data.count, into: &writer)
            writer.writeBytes(data)
        case .newToken(let token):
            writer.writeUInt8(UInt8(truncatingIfNeeded: FrameType.newToken))
            writer.writeVarInt(UInt64(token.count))
            writer.writeBytes(token)
        case .stream(let stream):
            stream.encode(into: &writer)
        case .maxData(let value), .dataBlocked(let value), .retireConnectionID(let value),
            .maxStreams(_, let value), .streamsBlocked(_, let value):
            writer.writeUInt8(UInt8(truncatingIfNeeded: frameType))
            writer.writeVarInt(value)
        case .maxStreamData(let streamID, let value), .streamDataBlocked(let streamID, let value):
            writer.writeUInt8(UInt8(truncatingIfNeeded: frameType))
            writer.writeVarInt(streamID)
            writer.writeVarInt(value)
        case .newConnectionID(let frame):
            frame.encode(into: &writer)
        case .pathChallenge(let data), .pathResponse(let data):
            writer.writeUInt8(UInt8(truncatingIfNeeded: frameType))
            writer.writeUInt64(data)
        case .connectionClose(let close):
            close.encode(into: &writer)
        case .datagram(let data):
            DatagramFrame.encodeHeader(length: data.count, into: &writer)
            writer.writeBytes(data)
        case .observedAddress(let frame):
            frame.encode(into: &writer)
        case .addAddress(let frame):
            frame.encode(into: &writer)
        case .punchMeNow(let frame):
            frame.encode(into: &writer)
        case .removeAddress(let sequenceNumber):
            writer.writeVarInt(FrameType.removeAddress)
            writer.writeVarInt(sequenceNumber)
        }
    }
}

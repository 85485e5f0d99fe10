/// A CONNECTION_CLOSE frame (RFC 9000 §19.19).
///
/// Type 0x1c reports a transport error and names the frame type that caused it; type 0x1d carries an
/// application error code and has no frame type field.
public struct ConnectionCloseFrame: Equatable, Sendable {
    /// True for type 0x1d (application close), false for 0x1c (transport close).
    public var isApplicationError: Bool
    /// The transport (RFC 9000 §20) or application error code.
    public var errorCode: UInt64
    /// The frame type that triggered a transport close; 0 for application closes.
    public var frameType: UInt64
    /// A human-readable reason, UTF-8 by convention (not validated).
    public var reasonPhrase: ArraySlice<UInt8>

    /// Creates a CONNECTION_CLOSE frame.
    public init(
        isApplicationError: Bool, errorCode: UInt64, frameType: UInt64 = 0, reasonPhrase: ArraySlice<UInt8> = []
    ) {
        self.isApplicationError = isApplicationError
        self.errorCode = errorCode
        self.frameType = frameType
        self.reasonPhrase = reasonPhrase
    }

    /// The encoded size of this frame.
    public var encodedLength: Int {
        1 + VarInt.encodedLength(errorCode) + (isApplicationError ? 0 : VarInt.encodedLength(frameType))
            + VarInt.encodedLength(UInt64(reasonPhrase.count)) + reasonPhrase.count
    }

    /// Writes the frame.
    public func encode(into writer: inout ByteWriter) {
        writer.writeUInt8(
            UInt8(
                truncatingIfNeeded: isApplicationError
                    ? FrameType.connectionCloseApplication : FrameType.connectionCloseTransport))
        writer.writeVarInt(errorCode)
        if !isApplicationError { writer.writeVarInt(frameType) }
        writer.writeVarInt(UInt64(reasonPhrase.count))
        writer.writeBytes(reasonPhrase)
    }

    /// Decodes the fields after a CONNECTION_CLOSE type byte; the reason must fit inside the input.
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> ConnectionCloseFrame {
        let isApplication = type == FrameType.connectionCloseApplication
        let errorCode = try reader.readVarInt()
        let frameType = isApplication ? 0 : try reader.readVarInt()
        let reason = try reader.readVarIntPrefixedBytes()
        return ConnectionCloseFrame(
            isApplicationError: isApplication, errorCode: errorCode, frameType: frameType, reasonPhrase: reason)
    }
}

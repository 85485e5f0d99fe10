/// A NEW_CONNECTION_ID frame: an extra connection ID the peer may use (RFC 9000 §19.15).
///
/// Each ID comes with a sequence number, the sequence number below which older IDs must be retired, and the
/// stateless reset token bound to it (§10.3).
public struct NewConnectionIDFrame: Equatable, Sendable {
    /// The sequence number of this connection ID (RFC 9000 §5.1.1).
    public var sequenceNumber: UInt64
    /// IDs with lower sequence numbers must be retired (≤ `sequenceNumber`).
    public var retirePriorTo: UInt64
    /// The new connection ID, 1…20 bytes.
    public var connectionID: ConnectionID
    /// The stateless reset token for this connection ID.
    public var statelessResetToken: StatelessResetToken

    /// Creates a NEW_CONNECTION_ID frame.
    public init(
        sequenceNumber: UInt64, retirePriorTo: UInt64, connectionID: ConnectionID,
        statelessResetToken: StatelessResetToken
    ) {
        self.sequenceNumber = sequenceNumber
        self.retirePriorTo = retirePriorTo
        self.connectionID = connectionID
        self.statelessResetToken = statelessResetToken
    }

    /// The encoded size of this frame.
    public var encodedLength: Int {
        1 + VarInt.encodedLength(sequenceNumber) + VarInt.encodedLength(retirePriorTo) + 1 + connectionID.count
            + StatelessResetToken.length
    }

    /// Writes the frame.
    public func encode(into writer: inout ByteWriter) {
        writer.writeUInt8(UInt8(truncatingIfNeeded: FrameType.newConnectionID))
        writer.writeVarInt(sequenceNumber)
        writer.writeVarInt(retirePriorTo)
        writer.writeUInt8(UInt8(truncatingIfNeeded: connectionID.count))
        writer.writeConnectionID(connectionID)
        statelessResetToken.withUnsafeBytes { writer.writeBytes($0) }
    }

    /// Decodes the fields after the type byte: length must be 1…20 and Retire Prior To ≤ Sequence Number
    /// (RFC 9000 §19.15: FRAME_ENCODING_ERROR).
    static func decodeBody(from reader: inout ByteReader) throws(WireError) -> NewConnectionIDFrame {
        let type = FrameType.newConnectionID
        let sequenceNumber = try reader.readVarInt()
        let retirePriorTo = try reader.readVarInt()
        guard retirePriorTo <= sequenceNumber else {
            throw .invalidFrame(type: type, reason: "retire prior to exceeds sequence number")
        }
        let length = Int(try reader.readUInt8())
        guard length >= 1, length <= ConnectionID.maxLength else {
            throw .invalidFrame(type: type, reason: "connection ID length must be 1...20")
        }
        let connectionID = ConnectionID(uncheckedSlice: try reader.readBytes(length))
        guard let token = StatelessResetToken(try reader.readBytes(StatelessResetToken.length)) else {
            throw .truncated
        }
        return NewConnectionIDFrame(
            sequenceNumber: sequenceNumber, retirePriorTo: retirePriorTo, connectionID: connectionID,
            statelessResetToken: token)
    }
}

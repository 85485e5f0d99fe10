/// ADD_ADDRESS: an address candidate the sender can be reached at (draft-seemann-quic-nat-traversal-02 §4.6.1).
///
/// Type 0x3d7e90 carries an IPv4 address and 0x3d7e91 an IPv6 one (the least significant bit of the type picks
/// the family). The Sequence Number names the candidate, so a later REMOVE_ADDRESS or a PUNCH_ME_NOW's
/// Paired With Sequence Number can refer to it.
///
/// ```
/// ADD_ADDRESS Frame {
///     Type (i) = 0x3d7e90..0x3d7e91,
///     Sequence Number (i),
///     [ IPv4 (32) ],
///     [ IPv6 (128) ],
///     Port (16),
/// }
/// ```
public struct AddAddressFrame: Equatable, Sendable {
    /// The candidate's sequence number (§4.6.1).
    public var sequenceNumber: UInt64
    /// The candidate's IP address in network order: 4 bytes (IPv4) or 16 bytes (IPv6).
    public private(set) var ipAddress: [UInt8]
    /// The candidate's UDP port.
    public var port: UInt16

    /// Creates a frame; nil unless `ipAddress` has 4 or 16 bytes and `sequenceNumber` fits a varint (RFC 9000 §16).
    public init?(sequenceNumber: UInt64, ipAddress: [UInt8], port: UInt16) {
        guard NATTraversalAddress.isValid(ipAddress), sequenceNumber <= VarInt.maxValue else { return nil }
        self.sequenceNumber = sequenceNumber
        self.ipAddress = ipAddress
        self.port = port
    }

    /// The frame type: 0x3d7e90 for IPv4, 0x3d7e91 for IPv6.
    public var frameType: UInt64 { ipAddress.count == 16 ? FrameType.addAddressIPv6 : FrameType.addAddressIPv4 }

    /// The encoded size of this frame.
    public var encodedLength: Int {
        VarInt.encodedLength(frameType) + VarInt.encodedLength(sequenceNumber) + ipAddress.count + 2
    }

    /// Writes the frame; the caller must have checked `encodedLength <= writer.remaining`.
    public func encode(into writer: inout ByteWriter) {
        writer.writeVarInt(frameType)
        writer.writeVarInt(sequenceNumber)
        writer.writeBytes(ipAddress)
        writer.writeUInt16(port)
    }

    /// Decodes the fields after the frame type; short input throws `WireError.truncated` (FRAME_ENCODING_ERROR).
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> AddAddressFrame {
        let sequenceNumber = try reader.readVarInt()
        let (address, port) = try NATTraversalAddress.decode(isIPv6: type & 1 == 1, from: &reader)
        guard let frame = AddAddressFrame(sequenceNumber: sequenceNumber, ipAddress: address, port: port) else {
            throw .invalidFrame(type: type, reason: "malformed ADD_ADDRESS")
        }
        return frame
    }
}

/// PUNCH_ME_NOW: asks the receiver to probe the address it names, paired with one of the receiver's own
/// candidates (draft-seemann-quic-nat-traversal-02 §4.6.2).
///
/// ```
/// PUNCH_ME_NOW Frame {
///     Type (i) = 0x3d7e92..0x3d7e93,
///     Round (i),
///     Paired With Sequence Number (i),
///     [ IPv4 (32) ],
///     [ IPv6 (128) ],
///     Port (16),
/// }
/// ```
public struct PunchMeNowFrame: Equatable, Sendable {
    /// The punching round; a higher round cancels the probes of earlier ones (§4.4).
    public var round: UInt64
    /// The sequence number of the receiver's ADD_ADDRESS candidate this address was paired with (§4.6.2).
    public var pairedWithSequenceNumber: UInt64
    /// The sender's candidate IP address in network order: 4 or 16 bytes.
    public private(set) var ipAddress: [UInt8]
    /// The sender's candidate UDP port.
    public var port: UInt16

    /// Creates a frame; nil unless `ipAddress` has 4 or 16 bytes and both numbers fit a varint (RFC 9000 §16).
    public init?(round: UInt64, pairedWithSequenceNumber: UInt64, ipAddress: [UInt8], port: UInt16) {
        guard NATTraversalAddress.isValid(ipAddress), round <= VarInt.maxValue,
            pairedWithSequenceNumber <= VarInt.maxValue
        else { return nil }
        self.round = round
        self.pairedWithSequenceNumber = pairedWithSequenceNumber
        self.ipAddress = ipAddress
        self.port = port
    }

    /// The frame type: 0x3d7e92 for IPv4, 0x3d7e93 for IPv6.
    public var frameType: UInt64 { ipAddress.count == 16 ? FrameType.punchMeNowIPv6 : FrameType.punchMeNowIPv4 }

    /// The encoded size of this frame.
    public var encodedLength: Int {
        VarInt.encodedLength(frameType) + VarInt.encodedLength(round) + VarInt.encodedLength(pairedWithSequenceNumber)
            + ipAddress.count + 2
    }

    /// Writes the frame; the caller must have checked `encodedLength <= writer.remaining`.
    public func encode(into writer: inout ByteWriter) {
        writer.writeVarInt(frameType)
        writer.writeVarInt(round)
        writer.writeVarInt(pairedWithSequenceNumber)
        writer.writeBytes(ipAddress)
        writer.writeUInt16(port)
    }

    /// Decodes the fields after the frame type; short input throws `WireError.truncated` (FRAME_ENCODING_ERROR).
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> PunchMeNowFrame {
        let round = try reader.readVarInt()
        let paired = try reader.readVarInt()
        let (address, port) = try NATTraversalAddress.decode(isIPv6: type & 1 == 1, from: &reader)
        guard let frame = PunchMeNowFrame(round: round, pairedWithSequenceNumber: paired, ipAddress: address, port: port)
        else { throw .invalidFrame(type: type, reason: "malformed PUNCH_ME_NOW") }
        return frame
    }
}

/// The address and port fields ADD_ADDRESS and PUNCH_ME_NOW share (draft-seemann-quic-nat-traversal-02 §4.6).
enum NATTraversalAddress {
    static func isValid(_ ipAddress: [UInt8]) -> Bool { ipAddress.count == 4 || ipAddress.count == 16 }

    static func decode(isIPv6: Bool, from reader: inout ByteReader) throws(WireError) -> ([UInt8], UInt16) {
        let address = Array(try reader.readBytes(isIPv6 ? 16 : 4))
        let port = try reader.readUInt16()
        return (address, port)
    }
}

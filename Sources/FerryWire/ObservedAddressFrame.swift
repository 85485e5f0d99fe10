/// An OBSERVED_ADDRESS frame: the address and port the sender sees packets from the receiver arrive from
/// (draft-ietf-quic-address-discovery-00 §4.1).
///
/// Type 0x9f81a6 carries an IPv4 address and 0x9f81a7 an IPv6 one (the least significant bit of the type picks
/// the family). The Sequence Number increases monotonically over the connection, so the receiver can ignore an
/// observation older than one it already has.
///
/// ```
/// OBSERVED_ADDRESS Frame {
///     Type (i) = 0x9f81a6..0x9f81a7,
///     Sequence Number (i),
///     [ IPv4 (32) ],
///     [ IPv6 (128) ],
///     Port (16),
/// }
/// ```
public struct ObservedAddressFrame: Equatable, Sendable {
    /// The frame's sequence number, increasing per connection (draft-ietf-quic-address-discovery-00 §4.1).
    public var sequenceNumber: UInt64
    /// The observed IP address in network order: 4 bytes (IPv4) or 16 bytes (IPv6).
    public private(set) var ipAddress: [UInt8]
    /// The observed UDP port.
    public var port: UInt16

    /// Creates a frame; nil unless `ipAddress` has 4 or 16 bytes and `sequenceNumber` fits a varint (RFC 9000 §16).
    public init?(sequenceNumber: UInt64, ipAddress: [UInt8], port: UInt16) {
        guard ipAddress.count == 4 || ipAddress.count == 16, sequenceNumber <= VarInt.maxValue else { return nil }
        self.sequenceNumber = sequenceNumber
        self.ipAddress = ipAddress
        self.port = port
    }

    /// Whether the frame carries an IPv6 address (type 0x9f81a7).
    public var isIPv6: Bool { ipAddress.count == 16 }

    /// The frame type: 0x9f81a6 for IPv4, 0x9f81a7 for IPv6.
    public var frameType: UInt64 { isIPv6 ? FrameType.observedAddressIPv6 : FrameType.observedAddressIPv4 }

    /// The encoded size of this frame: a 4-byte type, the sequence number, the address and a 2-byte port.
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

    /// Decodes the fields after the frame type; a short input throws `WireError.truncated`, which
    /// `Frame.decode` reports as FRAME_ENCODING_ERROR.
    static func decodeBody(type: UInt64, from reader: inout ByteReader) throws(WireError) -> ObservedAddressFrame {
        let sequenceNumber = try reader.readVarInt()
        let addressLength = type == FrameType.observedAddressIPv6 ? 16 : 4
        let address = Array(try reader.readBytes(addressLength))
        let port = try reader.readUInt16()
        guard let frame = ObservedAddressFrame(sequenceNumber: sequenceNumber, ipAddress: address, port: port) else {
            throw .invalidFrame(type: type, reason: "malformed OBSERVED_ADDRESS")
        }
        return frame
    }
}

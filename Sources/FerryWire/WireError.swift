/// A typed failure while decoding QUIC bytes from the network.
///
/// Every decoder in FerryWire reports malformed or truncated input with one of these cases instead of trapping,
/// because all of its input is attacker controlled (RFC 9000 §12.4, §18, §19).
public enum WireError: Error, Equatable, Sendable {
    /// The input ended before a field was complete.
    case truncated
    /// A variable-length integer was malformed or out of range (RFC 9000 §16).
    case invalidVarInt
    /// A frame type this implementation does not know (RFC 9000 §12.4: FRAME_ENCODING_ERROR).
    case unknownFrameType(UInt64)
    /// A frame whose fields violate RFC 9000 §19 or RFC 9221 §4.
    case invalidFrame(type: UInt64, reason: String)
    /// A packet header that cannot be parsed (RFC 9000 §17).
    case invalidPacket(String)
    /// A transport parameter that is malformed, out of range or not allowed from this sender (RFC 9000 §18).
    case invalidTransportParameter(id: UInt64, reason: String)

    /// The RFC 9000 §20.1 error code a connection closes with when it meets this error.
    ///
    /// Frame problems are FRAME_ENCODING_ERROR (0x07), parameter problems TRANSPORT_PARAMETER_ERROR (0x08), and
    /// everything else PROTOCOL_VIOLATION (0x0a).
    public var transportErrorCode: UInt64 {
        switch self {
        case .unknownFrameType, .invalidFrame: 0x07
        case .invalidTransportParameter: 0x08
        case .truncated, .invalidVarInt, .invalidPacket: 0x0a
        }
    }
}

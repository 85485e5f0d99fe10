/// A decoded QUIC frame (RFC 9000 §19, RFC 9221 §4).
///
/// Payload-carrying cases hold `ArraySlice`s into the received datagram, so decoding copies no data. The
/// transport layer matches on this enum to drive streams, flow control and recovery.
public enum Frame: Equatable, Sendable {
    /// PADDING (0x00): consecutive padding bytes decode as one frame of `length` bytes (RFC 9000 §19.1).
    case padding(length: Int)
    /// PING (0x01): elicits an acknowledgment (RFC 9000 §19.2).
    case ping
    /// ACK (0x02/0x03) (RFC 9000 §19.3).
    case ack(AckFrame)
    /// RESET_STREAM (0x04): abrupt end of the sending part of a stream (RFC 9000 §19.4).
    case resetStream(streamID: UInt64, applicationErrorCode: UInt64, finalSize: UInt64)
    /// STOP_SENDING (0x05): asks the peer to stop sending on a stream (RFC 9000 §19.5).
    case stopSending(streamID: UInt64, applicationErrorCode: UInt64)
    /// CRYPTO (0x06): TLS handshake bytes (RFC 9000 §19.6).
    case crypto(offset: UInt64, data: ArraySlice<UInt8>)
    /// NEW_TOKEN (0x07): an address validation token for future connections (RFC 9000 §19.7).
    case newToken(token: ArraySlice<UInt8>)
    /// STREAM (0x08–0x0f) (RFC 9000 §19.8).
    case stream(StreamFrame)
    /// MAX_DATA (0x10): connection flow control limit (RFC 9000 §19.9).
    case maxData(UInt64)
    /// MAX_STREAM_DATA (0x11): stream flow control limit (RFC 9000 §19.10).
    case maxStreamData(streamID: UInt64, maximum: UInt64)
    /// MAX_STREAMS (0x12 bidirectional, 0x13 unidirectional) (RFC 9000 §19.11).
    case maxStreams(bidirectional: Bool, maximum: UInt64)
    /// DATA_BLOCKED (0x14) (RFC 9000 §19.12).
    case dataBlocked(limit: UInt64)
    /// STREAM_DATA_BLOCKED (0x15) (RFC 9000 §19.13).
    case streamDataBlocked(streamID: UInt64, limit: UInt64)
    /// STREAMS_BLOCKED (0x16 bidirectional, 0x17 unidirectional) (RFC 9000 §19.14).
    case streamsBlocked(bidirectional: Bool, limit: UInt64)
    /// NEW_CONNECTION_ID (0x18) (RFC 9000 §19.15).
    case newConnectionID(NewConnectionIDFrame)
    /// RETIRE_CONNECTION_ID (0x19) (RFC 9000 §19.16).
    case retireConnectionID(sequenceNumber: UInt64)
    /// PATH_CHALLENGE (0x1a): 8 opaque bytes, held big-endian in a UInt64 (RFC 9000 §19.17).
    case pathChallenge(data: UInt64)
    /// PATH_RESPONSE (0x1b): echoes a PATH_CHALLENGE (RFC 9000 §19.18).
    case pathResponse(data: UInt64)
    /// CONNECTION_CLOSE (0x1c transport, 0x1d application) (RFC 9000 §19.19).
    case connectionClose(ConnectionCloseFrame)
    /// HANDSHAKE_DONE (0x1e): server confirms the handshake (RFC 9000 §19.20).
    case handshakeDone
    /// DATAGRAM (0x30/0x31): unreliable application data (RFC 9221 §4).
    case datagram(data: ArraySlice<UInt8>)
    /// OBSERVED_ADDRESS (0x9f81a6 IPv4, 0x9f81a7 IPv6): the receiver's address as the sender sees it
    /// (draft-ietf-quic-address-discovery-00 §4.1).
    case observedAddress(ObservedAddressFrame)
    /// ADD_ADDRESS (0x3d7e90 IPv4, 0x3d7e91 IPv6): an address candidate of the sender
    /// (draft-seemann-quic-nat-traversal-02 §4.6.1).
    case addAddress(AddAddressFrame)
    /// PUNCH_ME_NOW (0x3d7e92 IPv4, 0x3d7e93 IPv6): probe this address now (draft-seemann-quic-nat-traversal-02
    /// §4.6.2).
    case punchMeNow(PunchMeNowFrame)
    /// REMOVE_ADDRESS (0x3d7e94): the candidate with this sequence number is gone
    /// (draft-seemann-quic-nat-traversal-02 §4.6.3).
    case removeAddress(sequenceNumber: UInt64)

    /// The frame type as it is encoded by `encode(into:)`.
    ///
    /// STREAM frames always carry an explicit Length, and Offset when it is non-zero; DATAGRAM frames always use
    /// 0x31 (with Length); ACK uses 0x03 when ECN counts are present.
    public var frameType: UInt64 {
        switch self {
        case .padding: FrameType.padding
        case .ping: FrameType.ping
        case .ack(let ack): ack.ecnCounts == nil ? FrameType.ack : FrameType.ackECN
        case .resetStream: FrameType.resetStream
        case .stopSending: FrameType.stopSending
        case .crypto: FrameType.crypto
        case .newToken: FrameType.newToken
        case .stream(let stream): stream.encodedFrameType
        case .maxData: FrameType.maxData
        case .maxStreamData: FrameType.maxStreamData
        case .maxStreams(let bidirectional, _):
            bidirectional ? FrameType.maxStreamsBidirectional : FrameType.maxStreamsUnidirectional
        case .dataBlocked: FrameType.dataBlocked
        case .streamDataBlocked: FrameType.streamDataBlocked
        case .streamsBlocked(let bidirectional, _):
            bidirectional ? FrameType.streamsBlockedBidirectional : FrameType.streamsBlockedUnidirectional
        case .newConnectionID: FrameType.newConnectionID
        case .retireConnectionID: FrameType.retireConnectionID
        case .pathChallenge: FrameType.pathChallenge
        case .pathResponse: FrameType.pathResponse
        case .connectionClose(let close):
            close.isApplicationError ? FrameType.connectionCloseApplication : FrameType.connectionCloseTransport
        case .handshakeDone: FrameType.handshakeDone
        case .datagram: FrameType.datagramWithLength
        case .observedAddress(let frame): frame.frameType
        case .addAddress(let frame): frame.frameType
        case .punchMeNow(let frame): frame.frameType
        case .removeAddress: FrameType.removeAddress
        }
    }

    /// Whether receiving this frame obliges the peer to acknowledge (RFC 9000 §13.2.1).
    ///
    /// Every frame except ACK, PADDING and CONNECTION_CLOSE is ack-eliciting.
    public var isAckEliciting: Bool {
        switch self {
        case .ack, .padding, .connectionClose: false
        default: true
        }
    }

    /// Whether the frame may appear in a packet of `packetType` (RFC 9000 §12.4, Table 3).
    ///
    /// Initial and Handshake packets carry only PADDING, PING, ACK, CRYPTO and transport CONNECTION_CLOSE; 0-RTT
    /// packets carry no ACK, CRYPTO, NEW_TOKEN, RETIRE_CONNECTION_ID, PATH_RESPONSE or HANDSHAKE_DONE; 1-RTT
    /// packets carry everything; Retry and Version Negotiation packets carry no frames.
    public func isAllowed(in packetType: PacketType) -> Bool {
        switch packetType {
        case .initial, .handshake:
            switch self {
            case .padding, .ping, .ack, .crypto: return true
            case .connectionClose(let close): return !close.isApplicationError
            default: return false
            }
        case .zeroRTT:
            switch self {
            case .ack, .crypto, .newToken, .retireConnectionID, .pathResponse, .handshakeDone: return false
            default: return true
            }
        case .oneRTT:
            return true
        case .retry, .versionNegotiation:
            return false
        }
    }
}

/// Frame type codes (RFC 9000 §12.4 Table 3, RFC 9221 §4).
public enum FrameType {
    /// PADDING (RFC 9000 §19.1).
    public static let padding: UInt64 = 0x00
    /// PING (§19.2).
    public static let ping: UInt64 = 0x01
    /// ACK (§19.3).
    public static let ack: UInt64 = 0x02
    /// ACK with ECN counts (§19.3).
    public static let ackECN: UInt64 = 0x03
    /// RESET_STREAM (§19.4).
    public static let resetStream: UInt64 = 0x04
    /// STOP_SENDING (§19.5).
    public static let stopSending: UInt64 = 0x05
    /// CRYPTO (§19.6).
    public static let crypto: UInt64 = 0x06
    /// NEW_TOKEN (§19.7).
    public static let newToken: UInt64 = 0x07
    /// STREAM types are 0x08…0x0f; the low three bits are OFF (0x04), LEN (0x02) and FIN (0x01).
    public static let stream: UInt64 = 0x08
    /// MAX_DATA (§19.9).
    public static let maxData: UInt64 = 0x10
    /// MAX_STREAM_DATA (§19.10).
    public static let maxStreamData: UInt64 = 0x11
    /// MAX_STREAMS, bidirectional (§19.11).
    public static let maxStreamsBidirectional: UInt64 = 0x12
    /// MAX_STREAMS, unidirectional (§19.11).
    public static let maxStreamsUnidirectional: UInt64 = 0x13
    /// DATA_BLOCKED (§19.12).
    public static let dataBlocked: UInt64 = 0x14
    /// STREAM_DATA_BLOCKED (§19.13).
    public static let streamDataBlocked: UInt64 = 0x15
    /// STREAMS_BLOCKED, bidirectional (§19.14).
    public static let streamsBlockedBidirectional: UInt64 = 0x16
    /// STREAMS_BLOCKED, unidirectional (§19.14).
    public static let streamsBlockedUnidirectional: UInt64 = 0x17
    /// NEW_CONNECTION_ID (§19.15).
    public static let newConnectionID: UInt64 = 0x18
    /// RETIRE_CONNECTION_ID (§19.16).
    public static let retireConnectionID: UInt64 = 0x19
    /// PATH_CHALLENGE (§19.17).
    public static let pathChallenge: UInt64 = 0x1a
    /// PATH_RESPONSE (§19.18).
    public static let pathResponse: UInt64 = 0x1b
    /// CONNECTION_CLOSE for transport errors (§19.19).
    public static let connectionCloseTransport: UInt64 = 0x1c
    /// CONNECTION_CLOSE for application errors (§19.19).
    public static let connectionCloseApplication: UInt64 = 0x1d
    /// HANDSHAKE_DONE (§19.20).
    public static let handshakeDone: UInt64 = 0x1e
    /// DATAGRAM without Length (RFC 9221 §4).
    public static let datagram: UInt64 = 0x30
    /// DATAGRAM with Length (RFC 9221 §4).
    public static let datagramWithLength: UInt64 = 0x31
    /// OBSERVED_ADDRESS carrying an IPv4 address (draft-ietf-quic-address-discovery-00 §4.1).
    public static let observedAddressIPv4: UInt64 = 0x9f81a6
    /// OBSERVED_ADDRESS carrying an IPv6 address (draft-ietf-quic-address-discovery-00 §4.1).
    public static let observedAddressIPv6: UInt64 = 0x9f81a7
    /// ADD_ADDRESS carrying an IPv4 address (draft-seemann-quic-nat-traversal-02 §4.6.1).
    public static let addAddressIPv4: UInt64 = 0x3d7e90
    /// ADD_ADDRESS carrying an IPv6 address (draft-seemann-quic-nat-traversal-02 §4.6.1).
    public static let addAddressIPv6: UInt64 = 0x3d7e91
    /// PUNCH_ME_NOW carrying an IPv4 address (draft-seemann-quic-nat-traversal-02 §4.6.2).
    public static let punchMeNowIPv4: UInt64 = 0x3d7e92
    /// PUNCH_ME_NOW carrying an IPv6 address (draft-seemann-quic-nat-traversal-02 §4.6.2).
    public static let punchMeNowIPv6: UInt64 = 0x3d7e93
    /// REMOVE_ADDRESS (draft-seemann-quic-nat-traversal-02 §4.6.3).
    public static let removeAddress: UInt64 = 0x3d7e94
}

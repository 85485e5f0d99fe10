/// A QUIC transport error (RFC 9000 §20.1), raised by the local endpoint and sent in a CONNECTION_CLOSE frame of
/// type 0x1c.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error code as it goes on the wire.
    public var code: Code
    /// The type of the frame that triggered the error, when known (RFC 9000 §19.19).
    public var frameType: UInt64?
    /// A reason phrase for the peer and the logs.
    public var reason: String

    public init(_ code: Code, frameType: UInt64? = nil, reason: String = "") {
        self.code = code
        self.frameType = frameType
        self.reason = reason
    }

    public var description: String {
        reason.isEmpty ? "\(code)" : "\(code): \(reason)"
    }

    /// Transport error codes (RFC 9000 §20.1). `crypto(alert)` covers 0x0100–0x01ff (RFC 9001 §4.8).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }

        public static let noError = Code(rawValue: 0x00)
        public static let internalError = Code(rawValue: 0x01)
        public static let connectionRefused = Code(rawValue: 0x02)
        public static let flowControlError = Code(rawValue: 0x03)
        public static let streamLimitError = Code(rawValue: 0x04)
        public static let streamStateError = Code(rawValue: 0x05)
        public static let finalSizeError = Code(rawValue: 0x06)
        public static let frameEncodingError = Code(rawValue: 0x07)
        public static let transportParameterError = Code(rawValue: 0x08)
        public static let connectionIDLimitError = Code(rawValue: 0x09)
        public static let protocolViolation = Code(rawValue: 0x0a)
        public static let invalidToken = Code(rawValue: 0x0b)
        public static let applicationError = Code(rawValue: 0x0c)
        public static let cryptoBufferExceeded = Code(rawValue: 0x0d)
        public static let keyUpdateError = Code(rawValue: 0x0e)
        public static let aeadLimitReached = Code(rawValue: 0x0f)
        public static let noViablePath = Code(rawValue: 0x10)

        /// CRYPTO_ERROR carrying a TLS alert (RFC 9001 §4.8).
        public static func crypto(alert: UInt8) -> Code { Code(rawValue: 0x0100 + UInt64(alert)) }

        public var description: String {
            switch rawValue {
            case 0x00: "NO_ERROR"
            case 0x01: "INTERNAL_ERROR"
            case 0x02: "CONNECTION_REFUSED"
            case 0x03: "FLOW_CONTROL_ERROR"
            case 0x04: "STREAM_LIMIT_ERROR"
            case 0x05: "STREAM_STATE_ERROR"
            case 0x06: "FINAL_SIZE_ERROR"
            case 0x07: "FRAME_ENCODING_ERROR"
            case 0x08: "TRANSPORT_PARAMETER_ERROR"
            case 0x09: "CONNECTION_ID_LIMIT_ERROR"
            case 0x0a: "PROTOCOL_VIOLATION"
            case 0x0b: "INVALID_TOKEN"
            case 0x0c: "APPLICATION_ERROR"
            case 0x0d: "CRYPTO_BUFFER_EXCEEDED"
            case 0x0e: "KEY_UPDATE_ERROR"
            case 0x0f: "AEAD_LIMIT_REACHED"
            case 0x10: "NO_VIABLE_PATH"
            case 0x0100...0x01ff: "CRYPTO_ERROR(alert \(rawValue - 0x0100))"
            default: "0x\(String(rawValue, radix: 16))"
            }
        }
    }
}

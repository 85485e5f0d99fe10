/// Transport parameter identifiers (RFC 9000 §18.2, RFC 9221 §3).
public enum TransportParameterID {
    public static let originalDestinationConnectionID: UInt64 = 0x00
    public static let maxIdleTimeout: UInt64 = 0x01
    public static let statelessResetToken: UInt64 = 0x02
    public static let maxUDPPayloadSize: UInt64 = 0x03
    public static let initialMaxData: UInt64 = 0x04
    public static let initialMaxStreamDataBidiLocal: UInt64 = 0x05
    public static let initialMaxStreamDataBidiRemote: UInt64 = 0x06
    public static let initialMaxStreamDataUni: UInt64 = 0x07
    public static let initialMaxStreamsBidi: UInt64 = 0x08
    public static let initialMaxStreamsUni: UInt64 = 0x09
    public static let ackDelayExponent: UInt64 = 0x0a
    public static let maxAckDelay: UInt64 = 0x0b
    public static let disableActiveMigration: UInt64 = 0x0c
    public static let preferredAddress: UInt64 = 0x0d
    public static let activeConnectionIDLimit: UInt64 = 0x0e
    public static let initialSourceConnectionID: UInt64 = 0x0f
    public static let retrySourceConnectionID: UInt64 = 0x10
    /// max_datagram_frame_size (RFC 9221 §3).
    public static let maxDatagramFrameSize: UInt64 = 0x20

    /// Whether only a server may send the parameter (RFC 9000 §18.2).
    @inlinable
    public static func isServerOnly(_ id: UInt64) -> Bool {
        id == originalDestinationConnectionID || id == statelessResetToken || id == preferredAddress
            || id == retrySourceConnectionID
    }
}

/// Transport parameter identifiers (RFC 9000 §18.2, RFC 9221 §3, draft-ietf-quic-address-discovery-00 §3).
public enum TransportParameterID {
    /// original_destination_connection_id (RFC 9000 §18.2).
    public static let originalDestinationConnectionID: UInt64 = 0x00
    /// max_idle_timeout (RFC 9000 §18.2).
    public static let maxIdleTimeout: UInt64 = 0x01
    /// stateless_reset_token (RFC 9000 §18.2).
    public static let statelessResetToken: UInt64 = 0x02
    /// max_udp_payload_size (RFC 9000 §18.2).
    public static let maxUDPPayloadSize: UInt64 = 0x03
    /// initial_max_data (RFC 9000 §18.2).
    public static let initialMaxData: UInt64 = 0x04
    /// initial_max_stream_data_bidi_local (RFC 9000 §18.2).
    public static let initialMaxStreamDataBidiLocal: UInt64 = 0x05
    /// initial_max_stream_data_bidi_remote (RFC 9000 §18.2).
    public static let initialMaxStreamDataBidiRemote: UInt64 = 0x06
    /// initial_max_stream_data_uni (RFC 9000 §18.2).
    public static let initialMaxStreamDataUni: UInt64 = 0x07
    /// initial_max_streams_bidi (RFC 9000 §18.2).
    public static let initialMaxStreamsBidi: UInt64 = 0x08
    /// initial_max_streams_uni (RFC 9000 §18.2).
    public static let initialMaxStreamsUni: UInt64 = 0x09
    /// ack_delay_exponent (RFC 9000 §18.2).
    public static let ackDelayExponent: UInt64 = 0x0a
    /// max_ack_delay (RFC 9000 §18.2).
    public static let maxAckDelay: UInt64 = 0x0b
    /// disable_active_migration (RFC 9000 §18.2).
    public static let disableActiveMigration: UInt64 = 0x0c
    /// preferred_address (RFC 9000 §18.2).
    public static let preferredAddress: UInt64 = 0x0d
    /// active_connection_id_limit (RFC 9000 §18.2).
    public static let activeConnectionIDLimit: UInt64 = 0x0e
    /// initial_source_connection_id (RFC 9000 §18.2).
    public static let initialSourceConnectionID: UInt64 = 0x0f
    /// retry_source_connection_id (RFC 9000 §18.2).
    public static let retrySourceConnectionID: UInt64 = 0x10
    /// max_datagram_frame_size (RFC 9221 §3).
    public static let maxDatagramFrameSize: UInt64 = 0x20
    /// address_discovery (draft-ietf-quic-address-discovery-00 §3).
    public static let addressDiscovery: UInt64 = 0x9f81a176
    /// nat_traversal (draft-seemann-quic-nat-traversal-02 §4.5).
    public static let natTraversal: UInt64 = 0x3d7e9f0bca12fea6

    /// Whether only a server may send the parameter (RFC 9000 §18.2).
    @inlinable
    public static func isServerOnly(_ id: UInt64) -> Bool {
        id == originalDestinationConnectionID || id == statelessResetToken || id == preferredAddress
            || id == retrySourceConnectionID
    }
}

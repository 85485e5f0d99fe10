/// The server's preferred_address transport parameter (RFC 9000 §18.2, §9.6).
///
/// A server offers an alternative address the client may migrate to after the handshake, with a connection ID
/// and stateless reset token to use there. Addresses are raw network-order bytes; all-zero means absent.
public struct PreferredAddress: Equatable, Sendable {
    /// The IPv4 address, 4 bytes in network order.
    public var ipv4Address: [UInt8]
    /// The IPv4 port.
    public var ipv4Port: UInt16
    /// The IPv6 address, 16 bytes in network order.
    public var ipv6Address: [UInt8]
    /// The IPv6 port.
    public var ipv6Port: UInt16
    /// The connection ID to use at the new address (1…20 bytes).
    public var connectionID: ConnectionID
    /// The stateless reset token bound to `connectionID`.
    public var statelessResetToken: StatelessResetToken

    /// Creates a preferred address; addresses shorter or longer than 4/16 bytes are zero-padded or truncated.
    public init(
        ipv4Address: [UInt8], ipv4Port: UInt16, ipv6Address: [UInt8], ipv6Port: UInt16, connectionID: ConnectionID,
        statelessResetToken: StatelessResetToken
    ) {
        self.ipv4Address = PreferredAddress.fixed(ipv4Address, length: 4)
        self.ipv4Port = ipv4Port
        self.ipv6Address = PreferredAddress.fixed(ipv6Address, length: 16)
        self.ipv6Port = ipv6Port
        self.connectionID = connectionID
        self.statelessResetToken = statelessResetToken
    }

    private static func fixed(_ bytes: [UInt8], length: Int) -> [UInt8] {
        if bytes.count == length { return bytes }
        return Array((bytes + [UInt8](repeating: 0, count: length)).prefix(length))
    }

    /// The encoded size of the parameter value.
    var encodedLength: Int { 4 + 2 + 16 + 2 + 1 + connectionID.count + StatelessResetToken.length }

    func encode(into writer: inout ByteWriter) {
        writer.writeBytes(PreferredAddress.fixed(ipv4Address, length: 4))
        writer.writeUInt16(ipv4Port)
        writer.writeBytes(PreferredAddress.fixed(ipv6Address, length: 16))
        writer.writeUInt16(ipv6Port)
        writer.writeUInt8(UInt8(truncatingIfNeeded: connectionID.count))
        writer.writeConnectionID(connectionID)
        statelessResetToken.withUnsafeBytes { writer.writeBytes($0) }
    }

    /// Decodes the parameter value; the connection ID must be 1…20 bytes (RFC 9000 §18.2).
    static func decode(from reader: inout ByteReader) throws(WireError) -> PreferredAddress {
        let id = TransportParameterID.preferredAddress
        let ipv4 = Array(try reader.readBytes(4))
        let ipv4Port = try reader.readUInt16()
        let ipv6 = Array(try reader.readBytes(16))
        let ipv6Port = try reader.readUInt16()
        let length = Int(try reader.readUInt8())
        guard length >= 1, length <= ConnectionID.maxLength else {
            throw .invalidTransportParameter(id: id, reason: "preferred address connection ID must be 1...20 bytes")
        }
        let connectionID = try reader.readConnectionID(length: length)
        guard let token = StatelessResetToken(try reader.readBytes(StatelessResetToken.length)) else {
            throw .truncated
        }
        guard reader.isAtEnd else { throw .invalidTransportParameter(id: id, reason: "trailing bytes") }
        return PreferredAddress(
            ipv4Address: ipv4, ipv4Port: ipv4Port, ipv6Address: ipv6, ipv6Port: ipv6Port,
            connectionID: connectionID, statelessResetToken: token)
    }
}

/// A QUIC packet header as parsed before header protection is removed (RFC 9000 §17).
///
/// The protected bits of `firstByte` (reserved bits, packet number length, key phase) and the packet number are
/// not readable yet; packet protection unmasks them starting at `packetNumberOffset` (RFC 9001 §5.4). Offsets
/// index into the whole datagram so coalesced packets (RFC 9000 §12.2) can be walked with `packetEnd`.
public struct PacketHeader: Equatable, Sendable {
    /// The packet type. For an unsupported version this is the QUIC v1 reading of the type bits and must not be
    /// trusted; check `version` first.
    public var type: PacketType
    /// The first byte as received (still header-protected).
    public var firstByte: UInt8
    /// The version field; 0 for short headers and Version Negotiation.
    public var version: UInt32
    /// The Destination Connection ID.
    public var destinationConnectionID: ConnectionID
    /// The Source Connection ID; empty for short headers.
    public var sourceConnectionID: ConnectionID
    /// The Initial packet token (RFC 9000 §17.2.2); empty for other types.
    public var token: ArraySlice<UInt8>
    /// Index into the datagram of the first packet number byte.
    public var packetNumberOffset: Int
    /// Index just past this packet: packetNumberOffset + Length for long headers, the datagram end otherwise.
    public var packetEnd: Int
    /// The versions listed by a Version Negotiation packet (RFC 9000 §17.2.1).
    public var supportedVersions: [UInt32]
    /// The Retry Token of a Retry packet (RFC 9000 §17.2.5).
    public var retryToken: ArraySlice<UInt8>
    /// The 16-byte Retry Integrity Tag of a Retry packet (RFC 9001 §5.8).
    public var retryIntegrityTag: ArraySlice<UInt8>

    /// Creates a header; mostly for tests, since headers normally come from `parse`.
    public init(
        type: PacketType, firstByte: UInt8, version: UInt32, destinationConnectionID: ConnectionID,
        sourceConnectionID: ConnectionID = .empty, token: ArraySlice<UInt8> = [], packetNumberOffset: Int,
        packetEnd: Int, supportedVersions: [UInt32] = [], retryToken: ArraySlice<UInt8> = [],
        retryIntegrityTag: ArraySlice<UInt8> = []
    ) {
        self.type = type
        self.firstByte = firstByte
        self.version = version
        self.destinationConnectionID = destinationConnectionID
        self.sourceConnectionID = sourceConnectionID
        self.token = token
        self.packetNumberOffset = packetNumberOffset
        self.packetEnd = packetEnd
        self.supportedVersions = supportedVersions
        self.retryToken = retryToken
        self.retryIntegrityTag = retryIntegrityTag
    }

    /// The Header Form bit: 1 for long headers (RFC 9000 §17.2).
    public static let longHeaderBit: UInt8 = 0x80
    /// The Fixed Bit, 1 in every v1 packet except Version Negotiation (RFC 9000 §17.2, §17.3.1).
    public static let fixedBit: UInt8 = 0x40
    /// The length of the Retry Integrity Tag (RFC 9001 §5.8).
    public static let retryIntegrityTagLength = 16

    /// Whether this is a long-header packet.
    @inlinable
    public var isLongHeader: Bool { firstByte & PacketHeader.longHeaderBit != 0 }

    /// Whether the version is one this implementation speaks (long headers), or a short header.
    @inlinable
    public var isVersionSupported: Bool { type == .oneRTT || version == QUICVersion.version1 }

    /// Parses the packet starting at `offset` in `datagram`.
    ///
    /// Validates the fixed bit (except for Version Negotiation), connection ID lengths (≤ 20), and that Length
    /// fits the datagram (RFC 9000 §17.2). For an unsupported version it still returns the version and both
    /// connection IDs, so a server can answer with Version Negotiation (§6.1), with `packetEnd` at the datagram
    /// end. Short headers carry `shortHeaderConnectionIDLength` bytes of Destination Connection ID, since the
    /// length is not on the wire (§17.3.1).
    public static func parse(
        _ datagram: [UInt8], at offset: Int, shortHeaderConnectionIDLength: Int
    ) throws(WireError) -> PacketHeader {
        guard offset >= 0, offset < datagram.count else { throw .truncated }
        var reader = ByteReader(datagram, range: offset..<datagram.count)
        let firstByte = try reader.readUInt8()
        if firstByte & longHeaderBit == 0 {
            guard firstByte & fixedBit != 0 else { throw .invalidPacket("fixed bit is zero") }
            guard shortHeaderConnectionIDLength >= 0, shortHeaderConnectionIDLength <= ConnectionID.maxLength else {
                throw .invalidPacket("invalid short header connection ID length")
            }
            let destination = try readConnectionID(length: shortHeaderConnectionIDLength, from: &reader)
            return PacketHeader(
                type: .oneRTT, firstByte: firstByte, version: 0, destinationConnectionID: destination,
                packetNumberOffset: reader.position, packetEnd: datagram.count)
        }

        let version = try reader.readUInt32()
        let destination = try readConnectionID(length: Int(try reader.readUInt8()), from: &reader)
        let source = try readConnectionID(length: Int(try reader.readUInt8()), from: &reader)

        if version == 0 {
            guard reader.remaining > 0, reader.remaining % 4 == 0 else {
                throw .invalidPacket("version negotiation version list malformed")
            }
            var versions: [UInt32] = []
            versions.reserveCapacity(reader.remaining / 4)
            while !reader.isAtEnd {
                versions.append(try reader.readUInt32())
            }
            return PacketHeader(
                type: .versionNegotiation, firstByte: firstByte, version: 0, destinationConnectionID: destination,
                sourceConnectionID: source, packetNumberOffset: datagram.count, packetEnd: datagram.count,
                supportedVersions: versions)
        }

        let type: PacketType
        switch (firstByte >> 4) & 0x03 {
        case 0x00: type = .initial
        case 0x01: type = .zeroRTT
        case 0x02: type = .handshake
        default: type = .retry
        }

        guard version == QUICVersion.version1 else {
            return PacketHeader(
                type: type, firstByte: firstByte, version: version, destinationConnectionID: destination,
                sourceConnectionID: source, packetNumberOffset: reader.position, packetEnd: datagram.count)
        }
        guard firstByte & fixedBit != 0 else { throw .invalidPacket("fixed bit is zero") }

        if type == .retry {
            let tagLength = retryIntegrityTagLength
            guard reader.remaining > tagLength else { throw .invalidPacket("retry packet without token") }
            let retryToken = try reader.readBytes(reader.remaining - tagLength)
            let tag = try reader.readBytes(tagLength)
            return PacketHeader(
                type: .retry, firstByte: firstByte, version: version, destinationConnectionID: destination,
                sourceConnectionID: source, packetNumberOffset: datagram.count, packetEnd: datagram.count,
                retryToken: retryToken, retryIntegrityTag: tag)
        }

        var token: ArraySlice<UInt8> = []
        if type == .initial {
            token = try reader.readVarIntPrefixedBytes()
        }
        let length = try reader.readVarInt()
        guard length <= UInt64(reader.remaining) else { throw .invalidPacket("length exceeds datagram") }
        let packetNumberOffset = reader.position
        return PacketHeader(
            type: type, firstByte: firstByte, version: version, destinationConnectionID: destination,
            sourceConnectionID: source, token: token, packetNumberOffset: packetNumberOffset,
            packetEnd: packetNumberOffset + Int(length))
    }

    private static func readConnectionID(length: Int, from reader: inout ByteReader) throws(WireError)
        -> ConnectionID
    {
        guard length <= ConnectionID.maxLength else { throw .invalidPacket("connection ID longer than 20 bytes") }
        return try reader.readConnectionID(length: length)
    }

    /// Reads just the Destination Connection ID of the packet at `offset`, for routing a datagram to its
    /// connection before full parsing (RFC 9000 §5.2).
    public static func destinationConnectionID(
        in datagram: [UInt8], at offset: Int = 0, shortHeaderConnectionIDLength: Int
    ) throws(WireError) -> ConnectionID {
        guard offset >= 0, offset < datagram.count else { throw .truncated }
        var reader = ByteReader(datagram, range: offset..<datagram.count)
        let firstByte = try reader.readUInt8()
        if firstByte & longHeaderBit == 0 {
            return try readConnectionID(length: shortHeaderConnectionIDLength, from: &reader)
        }
        try reader.skip(4)
        return try readConnectionID(length: Int(try reader.readUInt8()), from: &reader)
    }
}

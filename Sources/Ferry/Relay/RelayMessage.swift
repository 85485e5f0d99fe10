import FerryCrypto

/// One message of the relay protocol `ferry/relay/1` (docs/relay.md §3).
///
/// A relay forwards opaque QUIC packets between endpoints it has authenticated, so the protocol is small: send a
/// packet to an id, receive a packet from an id, learn that an id is not here, measure latency, and (between relays
/// of one mesh) announce which ids are connected where. Every message is a type byte and a body. Over QUIC a
/// message travels either alone in a DATAGRAM frame (RFC 9221) or on the relay stream with a 2-byte length prefix;
/// over TCP/TLS only the stream form exists. Decoding takes untrusted bytes and throws `RelayProtocolError`, never
/// traps.
package enum RelayMessage: Equatable, Sendable {
    /// First message on the relay stream, client to relay: protocol version, flags, optional shared token.
    case clientHello(version: UInt8, isMeshPeer: Bool, token: [UInt8])
    /// The relay's answer to `clientHello`: the client is registered and may send.
    case serverHello(version: UInt8)
    /// Client to relay: deliver `packet` to `destination`.
    case sendPacket(destination: EndpointID, packet: ArraySlice<UInt8>)
    /// Relay to client: `packet` from `source`, an endpoint the relay authenticated.
    case receivePacket(source: EndpointID, packet: ArraySlice<UInt8>)
    /// Relay to client: a packet for `peer` could not be delivered (the dialer fails fast instead of timing out).
    case peerUnreachable(peer: EndpointID, reason: UnreachableReason)
    /// Latency probe; the other side answers `pong` with the same payload.
    case ping(UInt64)
    case pong(UInt64)
    /// The sender is closing the relay connection (or refusing the client) for `reason`; used over TCP, where
    /// there is no CONNECTION_CLOSE.
    case close(code: UInt8, reason: String)
    /// Mesh: these endpoints are connected to the sending relay (docs/relay.md §5).
    case peersPresent([EndpointID])
    /// Mesh: these endpoints left the sending relay.
    case peersAbsent([EndpointID])
    /// Mesh: a packet from `source` (authenticated by the sending relay) for `destination`.
    case meshForward(source: EndpointID, destination: EndpointID, packet: ArraySlice<UInt8>)

    /// Why a packet was not delivered.
    package enum UnreachableReason: UInt8, Sendable {
        /// No relay of the mesh has a client with that id.
        case notConnected = 1
        /// The destination's queue was full or its rate limit was reached.
        case overloaded = 2
    }

    /// The message type codes (docs/relay.md §3.2).
    package enum TypeCode: UInt8 {
        case clientHello = 0x00
        case serverHello = 0x01
        case sendPacket = 0x02
        case receivePacket = 0x03
        case peerUnreachable = 0x04
        case ping = 0x05
        case pong = 0x06
        case close = 0x07
        case peersPresent = 0x10
        case peersAbsent = 0x11
        case meshForward = 0x12
    }

    /// The protocol version this implementation speaks.
    package static let version: UInt8 = 1
    /// The ALPN of relay connections.
    package static let alpn = "ferry/relay/1"
    /// The largest QUIC packet a relay message carries (the largest UDP payload Ferry sends is 1452).
    package static let maximumPacketSize = 1500
    /// The largest stream-framed message (type byte and body).
    package static let maximumFramedSize = 65_535
    /// The most ids one `peersPresent`/`peersAbsent` message lists.
    package static let maximumPeersPerMessage = 1024
    /// Packets up to this size always reach the relay: when a DATAGRAM frame cannot carry them they go on the
    /// relay stream. Larger packets travel only as datagrams and are dropped otherwise, which is what lets the
    /// inner connection's path MTU discovery find the relayed path's size (docs/relay.md §4).
    package static let guaranteedPacketSize = 1200
    /// Bytes a `sendPacket`/`receivePacket` adds to the packet it carries.
    package static let packetOverhead = 1 + 32

    /// Appends the message (type byte and body) to `bytes`.
    package func encode(into bytes: inout [UInt8]) {
        switch self {
        case .clientHello(let version, let isMeshPeer, let token):
            bytes.append(TypeCode.clientHello.rawValue)
            bytes.append(version)
            bytes.append(isMeshPeer ? 1 : 0)
            bytes.append(UInt8(clamping: token.count))
            bytes.append(contentsOf: token.prefix(255))
        case .serverHello(let version):
            bytes.append(TypeCode.serverHello.rawValue)
            bytes.append(version)
        case .sendPacket(let destination, let packet):
            bytes.append(TypeCode.sendPacket.rawValue)
            bytes.append(contentsOf: destination.rawValue)
            bytes.append(contentsOf: packet)
        case .receivePacket(let source, let packet):
            bytes.append(TypeCode.receivePacket.rawValue)
            bytes.append(contentsOf: source.rawValue)
            bytes.append(contentsOf: packet)
        case .peerUnreachable(let peer, let reason):
            bytes.append(TypeCode.peerUnreachable.rawValue)
            bytes.append(contentsOf: peer.rawValue)
            bytes.append(reason.rawValue)
        case .ping(let payload):
            bytes.append(TypeCode.ping.rawValue)
            Self.append(payload, to: &bytes)
        case .pong(let payload):
            bytes.append(TypeCode.pong.rawValue)
            Self.append(payload, to: &bytes)
        case .close(let code, let reason):
            bytes.append(TypeCode.close.rawValue)
            bytes.append(code)
            bytes.append(contentsOf: reason.utf8.prefix(1024))
        case .peersPresent(let peers), .peersAbsent(let peers):
            if case .peersPresent = self {
                bytes.append(TypeCode.peersPresent.rawValue)
            } else {
                bytes.append(TypeCode.peersAbsent.rawValue)
            }
            for peer in peers.prefix(Self.maximumPeersPerMessage) { bytes.append(contentsOf: peer.rawValue) }
        case .meshForward(let source, let destination, let packet):
            bytes.append(TypeCode.meshForward.rawValue)
            bytes.append(contentsOf: source.rawValue)
            bytes.append(contentsOf: destination.rawValue)
            bytes.append(contentsOf: packet)
        }
    }

    /// The message as bytes (type byte and body).
    package var encoded: [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    /// Decodes one message (type byte and body) that fills `bytes` exactly.
    package init(decoding bytes: ArraySlice<UInt8>) throws(RelayProtocolError) {
        guard let first = bytes.first else { throw .truncated }
        guard let type = TypeCode(rawValue: first) else { throw .unknownType(first) }
        var body = bytes.dropFirst()
        switch type {
        case .clientHello:
            guard body.count >= 3 else { throw .truncated }
            let version = body[body.startIndex]
            let flags = body[body.startIndex + 1]
            let tokenLength = Int(body[body.startIndex + 2])
            body = body.dropFirst(3)
            guard body.count == tokenLength else { throw .badLength(type) }
            guard flags & ~1 == 0 else { throw .malformed(type, "unknown flags \(flags)") }
            self = .clientHello(version: version, isMeshPeer: flags & 1 == 1, token: Array(body))
        case .serverHello:
            guard body.count == 1, let version = body.first else { throw .badLength(type) }
            self = .serverHello(version: version)
        case .sendPacket, .receivePacket:
            let peer = try Self.takeID(&body, type)
            guard !body.isEmpty, body.count <= Self.maximumPacketSize else { throw .badLength(type) }
            self = type == .sendPacket
                ? .sendPacket(destination: peer, packet: body) : .receivePacket(source: peer, packet: body)
        case .peerUnreachable:
            let peer = try Self.takeID(&body, type)
            guard body.count == 1, let code = body.first else { throw .badLength(type) }
            guard let reason = UnreachableReason(rawValue: code) else { throw .malformed(type, "reason \(code)") }
            self = .peerUnreachable(peer: peer, reason: reason)
        case .ping, .pong:
            guard body.count == 8 else { throw .badLength(type) }
            let payload = body.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = type == .ping ? .ping(payload) : .pong(payload)
        case .close:
            guard let code = body.first else { throw .truncated }
            guard body.count <= 1025 else { throw .badLength(type) }
            self = .close(code: code, reason: String(decoding: body.dropFirst(), as: UTF8.self))
        case .peersPresent, .peersAbsent:
            guard body.count % 32 == 0, body.count / 32 <= Self.maximumPeersPerMessage else { throw .badLength(type) }
            var peers: [EndpointID] = []
            peers.reserveCapacity(body.count / 32)
            while !body.isEmpty { peers.append(try Self.takeID(&body, type)) }
            self = type == .peersPresent ? .peersPresent(peers) : .peersAbsent(peers)
        case .meshForward:
            let source = try Self.takeID(&body, type)
            let destination = try Self.takeID(&body, type)
            guard !body.isEmpty, body.count <= Self.maximumPacketSize else { throw .badLength(type) }
            self = .meshForward(source: source, destination: destination, packet: body)
        }
    }

    private static func takeID(_ body: inout ArraySlice<UInt8>, _ type: TypeCode) throws(RelayProtocolError) -> EndpointID {
        guard body.count >= 32, let id = EndpointID(rawValue: Array(body.prefix(32))) else { throw .truncated }
        body = body.dropFirst(32)
        return id
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
}

/// Why a relay message or frame was rejected. A relay closes the sender's relay connection with this reason.
package enum RelayProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message ends before its fixed fields do.
    case truncated
    /// The type byte is not one of docs/relay.md §3.2.
    case unknownType(UInt8)
    /// The body's length does not fit the type (an empty or oversized packet, a partial id list).
    case badLength(RelayMessage.TypeCode)
    /// A field holds a value the protocol does not define.
    case malformed(RelayMessage.TypeCode, String)
    /// A stream frame announced more than `RelayMessage.maximumFramedSize` bytes, or a zero length.
    case frameTooLarge(Int)
    /// A message arrived where the protocol does not allow it (for example a packet before `clientHello`).
    case unexpected(RelayMessage.TypeCode)

    /// A one-line explanation, sent to the peer as the close reason.
    package var description: String {
        switch self {
        case .truncated: "truncated relay message"
        case .unknownType(let type): "unknown relay message type 0x\(String(type, radix: 16))"
        case .badLength(let type): "bad length for relay message \(type)"
        case .malformed(let type, let detail): "malformed relay message \(type): \(detail)"
        case .frameTooLarge(let size): "relay frame length \(size) out of range"
        case .unexpected(let type): "unexpected relay message \(type)"
        }
    }
}

/// Splits a byte stream into length-prefixed relay messages (2-byte big-endian length, then the message).
///
/// Used for the relay stream over QUIC and for TCP/TLS. Bounded: it holds at most one partial frame, and a
/// length above `RelayMessage.maximumFramedSize` (which a 2-byte length cannot exceed) or of zero is an error.
package struct RelayFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var readIndex = 0

    package init() {}

    /// Adds received bytes.
    package mutating func append(_ bytes: some Sequence<UInt8>) {
        if readIndex > 0, readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, or nil until more bytes arrive.
    package mutating func next() throws(RelayProtocolError) -> RelayMessage? {
        guard buffer.count - readIndex >= 2 else { return compact() }
        let length = Int(buffer[readIndex]) << 8 | Int(buffer[readIndex + 1])
        guard length > 0 else { throw .frameTooLarge(length) }
        guard buffer.count - readIndex - 2 >= length else { return compact() }
        let start = readIndex + 2
        readIndex = start + length
        return try RelayMessage(decoding: buffer[start..<start + length])
    }

    private mutating func compact() -> RelayMessage? {
        if readIndex > 0 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        return nil
    }

    /// Appends `message` to `bytes` in the stream form.
    package static func frame(_ message: RelayMessage, into bytes: inout [UInt8]) {
        let lengthIndex = bytes.count
        bytes.append(0)
        bytes.append(0)
        message.encode(into: &bytes)
        let length = min(bytes.count - lengthIndex - 2, RelayMessage.maximumFramedSize)
        bytes[lengthIndex] = UInt8(length >> 8)
        bytes[lengthIndex + 1] = UInt8(length & 0xff)
    }
}

import FerryCrypto

/// A `CryptoProvider` whose handshake is a short scripted exchange instead of TLS, for transport tests.
///
/// It runs the same shape as a TLS 1.3 handshake in QUIC (RFC 9001 §4.1): a ClientHello in Initial packets,
/// a ServerHello in Initial, the server's extensions (ALPN, identity, transport parameters) in Handshake packets,
/// the client's Finished in Handshake packets, with keys released per level at the right moments. Packet
/// protection is `TestPacketProtector`, so corrupted packets are rejected. This lets the whole transport be
/// exercised deterministically without OpenSSL.
public struct TestCryptoProvider: CryptoProvider {
    /// This endpoint's identity, presented to the peer.
    public var identity: EndpointID
    /// ALPNs a server accepts, in preference order.
    public var serverALPNs: [[UInt8]]
    /// When set, a server fails every handshake with this TLS alert after reading the ClientHello.
    public var serverFailureAlert: UInt8?
    /// Use `NullPacketProtector` (no encryption, no integrity) instead of the checksum protector, to measure
    /// the transport's own cost.
    public var usesNullProtection: Bool
    /// When set, the session sends these bytes as its transport parameters instead of the connection's own,
    /// so tests can feed a peer malformed or forbidden parameters (RFC 9000 §7.4, §18.2).
    public var transportParametersOverride: [UInt8]?
    /// Seeds the sessions' handshake randoms (the ClientHello/ServerHello random the 1-RTT keys derive from), so a
    /// run reproduces byte for byte, as the transport fuzzers need; nil draws them from the system generator.
    public var randomSeed: UInt64?

    /// Creates a provider with identity `identity` (a deterministic one from `identitySeed` by default).
    public init(identity: EndpointID? = nil, identitySeed: UInt8 = 1, serverALPNs: [[UInt8]] = [Array("test".utf8)],
                serverFailureAlert: UInt8? = nil, usesNullProtection: Bool = false, randomSeed: UInt64? = nil) {
        self.usesNullProtection = usesNullProtection
        self.randomSeed = randomSeed
        self.identity = identity ?? TestCryptoProvider.makeIdentity(seed: identitySeed)
        self.serverALPNs = serverALPNs
        self.serverFailureAlert = serverFailureAlert
    }

    /// A deterministic identity whose 32 key bytes are derived from `seed`.
    public static func makeIdentity(seed: UInt8) -> EndpointID {
        var bytes = [UInt8]()
        var state = UInt64(seed) &* 0x1234_5678_9ABC_DEF1
        for _ in 0..<32 {
            state = TestPacketProtector.mix(state)
            bytes.append(UInt8(truncatingIfNeeded: state))
        }
        guard let identity = EndpointID(rawValue: bytes) else { preconditionFailure("32 bytes make an EndpointID") }
        return identity
    }

    public func makeClientSession(
        expectedPeer: EndpointID,
        alpns: [[UInt8]],
        localTransportParameters: [UInt8]
    ) throws(HandshakeError) -> any HandshakeSession {
        TestHandshakeSession(
            side: .client, identity: identity, expectedPeer: expectedPeer, alpns: alpns,
            localTransportParameters: transportParametersOverride ?? localTransportParameters, failureAlert: nil,
            usesNullProtection: usesNullProtection, randomSeed: randomSeed)
    }

    public func makeServerSession(localTransportParameters: [UInt8]) throws(HandshakeError) -> any HandshakeSession {
        TestHandshakeSession(
            side: .server, identity: identity, expectedPeer: nil, alpns: serverALPNs,
            localTransportParameters: transportParametersOverride ?? localTransportParameters, failureAlert: serverFailureAlert,
            usesNullProtection: usesNullProtection, randomSeed: randomSeed)
    }

    public func makeInitialKeys(destinationConnectionID: [UInt8], side: Side) throws(PacketProtectionError) -> PacketKeyPair {
        var secret: UInt64 = 0x1C1C
        for byte in destinationConnectionID {
            secret = TestPacketProtector.mix(secret ^ UInt64(byte))
        }
        if usesNullProtection { return PacketKeyPair(local: NullPacketProtector(), remote: NullPacketProtector()) }
        return TestHandshakeSession.keyPair(secret: secret, side: side)
    }
}

/// The scripted handshake behind `TestCryptoProvider`.
///
/// Messages are framed as `type (1) | length (3) | body` so they survive arbitrary CRYPTO frame splitting.
public final class TestHandshakeSession: HandshakeSession {
    enum MessageType: UInt8 {
        case clientHello = 1, serverHello = 2, encryptedExtensions = 3, finished = 4
    }

    let side: Side
    let identity: EndpointID
    let expectedPeer: EndpointID?
    let alpns: [[UInt8]]
    let localTransportParameters: [UInt8]
    let failureAlert: UInt8?
    let usesNullProtection: Bool
    private var started = false
    private var pending: [HandshakeEvent] = []
    private var pendingHead = 0
    private var inbound: [[UInt8]] = [[], [], []]
    private var localRandom: UInt64
    private var handshakeSecret: UInt64 = 0

    public private(set) var isComplete = false
    public private(set) var peerTransportParameters: [UInt8]?
    public private(set) var negotiatedALPN: [UInt8]?
    public private(set) var peerIdentity: EndpointID?
    public var cipherSuite: CipherSuite? { isComplete ? .aes128GCMSHA256 : nil }

    init(side: Side, identity: EndpointID, expectedPeer: EndpointID?, alpns: [[UInt8]],
         localTransportParameters: [UInt8], failureAlert: UInt8?, usesNullProtection: Bool = false,
         randomSeed: UInt64? = nil) {
        self.usesNullProtection = usesNullProtection
        self.side = side
        self.identity = identity
        self.expectedPeer = expectedPeer
        self.alpns = alpns
        self.localTransportParameters = localTransportParameters
        self.failureAlert = failureAlert
        if let randomSeed {
            // Distinct per side, so the handshake secret (client random ^ server random) is not zero.
            self.localRandom = TestPacketProtector.mix(randomSeed ^ (side == .client ? 0xC11E : 0x5E4E))
        } else {
            var system = SystemRandomNumberGenerator()
            self.localRandom = system.next()
        }
    }

    static func keyPair(secret: UInt64, side: Side) -> PacketKeyPair {
        let client = TestPacketProtector(
            key: TestPacketProtector.mix(secret ^ 0xC11E), headerKey: TestPacketProtector.mix(secret ^ 0xC1A0))
        let server = TestPacketProtector(
            key: TestPacketProtector.mix(secret ^ 0x5E4E), headerKey: TestPacketProtector.mix(secret ^ 0x5EA0))
        return side == .client ? PacketKeyPair(local: client, remote: server) : PacketKeyPair(local: server, remote: client)
    }

    private func enqueueKeys(secret: UInt64, level: EncryptionLevel, write: Bool, read: Bool) {
        let pair = usesNullProtection
            ? PacketKeyPair(local: NullPacketProtector(), remote: NullPacketProtector())
            : Self.keyPair(secret: secret, side: side)
        if write { pending.append(.writeKeys(pair.local, level: level)) }
        if read { pending.append(.readKeys(pair.remote, level: level)) }
    }

    private static func frame(_ type: MessageType, _ body: [UInt8]) -> [UInt8] {
        [type.rawValue, UInt8(truncatingIfNeeded: body.count >> 16), UInt8(truncatingIfNeeded: body.count >> 8),
         UInt8(truncatingIfNeeded: body.count)] + body
    }

    private static func bytes(of value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    private static func lengthPrefixed16(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(truncatingIfNeeded: bytes.count >> 8), UInt8(truncatingIfNeeded: bytes.count)] + bytes
    }

    public func receive(cryptoData: UnsafeRawBufferPointer, level: EncryptionLevel) throws(HandshakeError) {
        inbound[level.rawValue].append(contentsOf: cryptoData)
        while inbound[level.rawValue].count >= 4 {
            let buffer = inbound[level.rawValue]
            let length = Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
            guard buffer.count >= 4 + length else { break }
            let body = Array(buffer[4..<(4 + length)])
            inbound[level.rawValue].removeFirst(4 + length)
            guard let type = MessageType(rawValue: buffer[0]) else {
                throw HandshakeError(alert: HandshakeError.unexpectedMessage, reason: "unknown test message")
            }
            try process(type, body: body, level: level)
        }
    }

    private func process(_ type: MessageType, body: [UInt8], level: EncryptionLevel) throws(HandshakeError) {
        var reader = ByteReader(body)
        do {
            switch (side, type, level) {
            case (.server, .clientHello, .initial):
                let clientRandom = try reader.readUInt64()
                let alpnCount = Int(try reader.readUInt8())
                var offered: [[UInt8]] = []
                for _ in 0..<alpnCount {
                    let length = Int(try reader.readUInt8())
                    offered.append(Array(try reader.readBytes(length)))
                }
                let clientIdentity = Array(try reader.readBytes(32))
                let parametersLength = Int(try reader.readUInt16())
                peerTransportParameters = Array(try reader.readBytes(parametersLength))
                peerIdentity = EndpointID(rawValue: clientIdentity)
                if let failureAlert {
                    throw HandshakeError(alert: failureAlert, reason: "scripted failure")
                }
                guard let chosen = alpns.first(where: { offered.contains($0) }) else {
                    throw HandshakeError(alert: HandshakeError.noApplicationProtocol, reason: "no common ALPN")
                }
                negotiatedALPN = chosen
                handshakeSecret = TestPacketProtector.mix(clientRandom ^ localRandom)
                pending.append(.cryptoData(Self.frame(.serverHello, Self.bytes(of: localRandom)), level: .initial))
                enqueueKeys(secret: handshakeSecret, level: .handshake, write: true, read: true)
                var extensions = [UInt8(chosen.count)] + chosen + identity.rawValue
                extensions += Self.lengthPrefixed16(localTransportParameters)
                pending.append(.cryptoData(Self.frame(.encryptedExtensions, extensions), level: .handshake))
                enqueueKeys(secret: TestPacketProtector.mix(handshakeSecret ^ 0xA9), level: .application,
                            write: true, read: false)
            case (.client, .serverHello, .initial):
                let serverRandom = try reader.readUInt64()
                handshakeSecret = TestPacketProtector.mix(localRandom ^ serverRandom)
                enqueueKeys(secret: handshakeSecret, level: .handshake, write: true, read: true)
            case (.client, .encryptedExtensions, .handshake):
                let alpnLength = Int(try reader.readUInt8())
                let chosen = Array(try reader.readBytes(alpnLength))
                guard alpns.contains(chosen) else {
                    throw HandshakeError(alert: HandshakeError.noApplicationProtocol, reason: "ALPN not offered")
                }
                let serverIdentity = Array(try reader.readBytes(32))
                guard serverIdentity == expectedPeer?.rawValue else {
                    throw HandshakeError(alert: HandshakeError.badCertificate, reason: "unexpected server identity")
                }
                let parametersLength = Int(try reader.readUInt16())
                peerTransportParameters = Array(try reader.readBytes(parametersLength))
                peerIdentity = EndpointID(rawValue: serverIdentity)
                negotiatedALPN = chosen
                pending.append(.cryptoData(Self.frame(.finished, []), level: .handshake))
                enqueueKeys(secret: TestPacketProtector.mix(handshakeSecret ^ 0xA9), level: .application,
                            write: true, read: true)
                pending.append(.complete)
                isComplete = true
            case (.server, .finished, .handshake):
                enqueueKeys(secret: TestPacketProtector.mix(handshakeSecret ^ 0xA9), level: .application,
                            write: false, read: true)
                pending.append(.complete)
                isComplete = true
            default:
                throw HandshakeError(alert: HandshakeError.unexpectedMessage, reason: "unexpected \(type) at \(level)")
            }
        } catch let error as HandshakeError {
            throw error
        } catch {
            throw HandshakeError(alert: HandshakeError.decodeError, reason: "malformed test message")
        }
    }

    public func pollEvent() throws(HandshakeError) -> HandshakeEvent? {
        if side == .client && !started {
            started = true
            var body = Self.bytes(of: localRandom)
            body.append(UInt8(alpns.count))
            for alpn in alpns {
                body.append(UInt8(alpn.count))
                body += alpn
            }
            body += identity.rawValue
            body += Self.lengthPrefixed16(localTransportParameters)
            return .cryptoData(Self.frame(.clientHello, body), level: .initial)
        }
        guard pendingHead < pending.count else {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
            return nil
        }
        let event = pending[pendingHead]
        pendingHead += 1
        return event
    }
}

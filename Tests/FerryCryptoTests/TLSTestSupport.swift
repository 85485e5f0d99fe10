import XCTest

@testable import FerryCrypto

/// A client provider (fresh identity, no server ALPNs) and a server provider offering `alpn`: the setup most
/// handshake tests start from.
struct TLSProviders {
    let serverIdentity: EndpointIdentity
    let client: OpenSSLCryptoProvider
    let server: OpenSSLCryptoProvider
    let alpn: [UInt8]

    init(alpn: [UInt8], serverIdentity: EndpointIdentity = .generate()) throws {
        self.serverIdentity = serverIdentity
        self.alpn = alpn
        client = try OpenSSLCryptoProvider(identity: .generate(), serverALPNs: [])
        server = try OpenSSLCryptoProvider(identity: serverIdentity, serverALPNs: [alpn])
    }

    /// A client session that expects the server's id and offers `alpn`.
    func makeClientSession(transportParameters: [UInt8] = [1]) throws -> any HandshakeSession {
        try client.makeClientSession(
            expectedPeer: serverIdentity.id, alpns: [alpn], localTransportParameters: transportParameters)
    }

    /// A server session.
    func makeServerSession(transportParameters: [UInt8] = [2]) throws -> any HandshakeSession {
        try server.makeServerSession(localTransportParameters: transportParameters)
    }
}

/// Every CRYPTO byte `session` has queued, per level (other events are dropped).
func drainCryptoData(_ session: any HandshakeSession) throws -> [EncryptionLevel: [UInt8]] {
    var data: [EncryptionLevel: [UInt8]] = [:]
    while let event = try session.pollEvent() {
        if case .cryptoData(let bytes, let level) = event { data[level, default: []] += bytes }
    }
    return data
}

/// Feeds `bytes` at `level` to `session` and drains what it queued: the `HandshakeError` it failed with, or nil
/// when it took the bytes. Any other error fails the test (sessions must fail with typed errors only).
func handshakeError(
    receiving bytes: [UInt8],
    at level: EncryptionLevel,
    in session: any HandshakeSession,
    file: StaticString = #filePath,
    line: UInt = #line
) -> HandshakeError? {
    do {
        try bytes.withUnsafeBytes { try session.receive(cryptoData: $0, level: level) }
        _ = try drainCryptoData(session)
        return nil
    } catch let error as HandshakeError {
        return error
    } catch {
        XCTFail("unexpected \(error)", file: file, line: line)
        return nil
    }
}

/// An in-memory TLS pair: CRYPTO bytes from one session are fed to the other, as the transport would, until
/// neither side produces anything new. No packets, no clock: only the handshake sessions.
final class TLSHandshakePair {
    /// What one side produced and received, and its bytes in flight to the other side.
    private struct Side {
        var writeKeys: [EncryptionLevel: any PacketProtector] = [:]
        var readKeys: [EncryptionLevel: any PacketProtector] = [:]
        var completed = false
        var error: HandshakeError?
        var sent: [EncryptionLevel: [UInt8]] = [:]
        var eventLog: [String] = []
        var outbox: [EncryptionLevel: [UInt8]] = [:]
    }

    let client: any HandshakeSession
    let server: any HandshakeSession
    /// Deliver CRYPTO data in chunks of at most this many bytes (nil: as produced).
    var chunkSize: Int?

    private var clientSide = Side()
    private var serverSide = Side()

    var clientWriteKeys: [EncryptionLevel: any PacketProtector] { clientSide.writeKeys }
    var clientReadKeys: [EncryptionLevel: any PacketProtector] { clientSide.readKeys }
    var serverWriteKeys: [EncryptionLevel: any PacketProtector] { serverSide.writeKeys }
    var serverReadKeys: [EncryptionLevel: any PacketProtector] { serverSide.readKeys }
    var clientCompleted: Bool { clientSide.completed }
    var serverCompleted: Bool { serverSide.completed }
    var clientError: HandshakeError? { clientSide.error }
    var serverError: HandshakeError? { serverSide.error }
    /// Every CRYPTO byte each side emitted, per level.
    var clientSent: [EncryptionLevel: [UInt8]] { clientSide.sent }
    var serverSent: [EncryptionLevel: [UInt8]] { serverSide.sent }
    /// Order in which `.complete` and keys arrived, per side, for ordering assertions.
    var clientEventLog: [String] { clientSide.eventLog }
    var serverEventLog: [String] { serverSide.eventLog }

    init(client: any HandshakeSession, server: any HandshakeSession) {
        self.client = client
        self.server = server
    }

    /// Runs until both sides are idle or one failed.
    func run() {
        var progress = true
        var rounds = 0
        while progress && clientError == nil && serverError == nil && rounds < 1000 {
            rounds += 1
            progress = false
            progress = Self.drain(client, into: &clientSide) || progress
            progress = Self.drain(server, into: &serverSide) || progress
            progress = deliver(from: &clientSide, to: server, receiver: &serverSide) || progress
            progress = deliver(from: &serverSide, to: client, receiver: &clientSide) || progress
        }
    }

    /// Takes every event `session` has queued into `side`; true if there was any (or the session failed).
    private static func drain(_ session: any HandshakeSession, into side: inout Side) -> Bool {
        var progress = false
        do {
            while let event = try session.pollEvent() {
                progress = true
                switch event {
                case .cryptoData(let bytes, let level):
                    side.outbox[level, default: []] += bytes
                    side.sent[level, default: []] += bytes
                case .writeKeys(let protector, let level):
                    side.writeKeys[level] = protector
                    side.eventLog.append("write-\(level)")
                case .readKeys(let protector, let level):
                    side.readKeys[level] = protector
                    side.eventLog.append("read-\(level)")
                case .complete:
                    side.completed = true
                    side.eventLog.append("complete")
                }
            }
        } catch {
            side.error = error
            return true
        }
        return progress
    }

    /// Delivers `sender`'s pending bytes at the lowest level `session` can read (like a transport, which can
    /// only decrypt a level's packets once it has that level's read keys); failures land in `receiver`.
    private func deliver(from sender: inout Side, to session: any HandshakeSession, receiver: inout Side) -> Bool {
        for level in EncryptionLevel.allCases {
            guard let bytes = sender.outbox[level], !bytes.isEmpty else { continue }
            guard level == .initial || receiver.readKeys[level] != nil else { continue }
            sender.outbox[level] = []
            do {
                try deliver(bytes, level: level, to: session)
            } catch let error as HandshakeError {
                receiver.error = error
            } catch {
                receiver.error = HandshakeError(alert: 0, reason: "unexpected error \(error)")
            }
            return true
        }
        return false
    }

    private func deliver(_ bytes: [UInt8], level: EncryptionLevel, to session: any HandshakeSession) throws {
        let step = chunkSize ?? max(bytes.count, 1)
        var start = 0
        while start < bytes.count {
            let end = min(start + step, bytes.count)
            try bytes[start..<end].withUnsafeBytes { chunk in
                try session.receive(cryptoData: chunk, level: level)
            }
            start = end
        }
    }

    /// Seals a packet with `sealer` and opens it with `opener`; returns whether the payload round-trips (false when
    /// the tag does not verify) and both compute the same header-protection mask.
    static func interoperate(sealer: any PacketProtector, opener: any PacketProtector, packetNumber: UInt64) throws
        -> Bool
    {
        let header: [UInt8] = [0x41, 0x01, 0x02, 0x03, 0x04, UInt8(truncatingIfNeeded: packetNumber)]
        let payload = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(packetNumber)) }
        var packet = header + payload + [UInt8](repeating: 0, count: sealer.tagLength)
        try packet.withUnsafeMutableBytes { buffer in
            try sealer.seal(
                packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: header.count,
                payloadEnd: header.count + payload.count)
        }
        guard Array(packet[header.count..<header.count + payload.count]) != payload else { return false }
        let sample = Array(packet[header.count..<header.count + sealer.sampleLength])
        let sealMask = try sample.withUnsafeBytes { try sealer.headerProtectionMask(sample: $0) }
        let openMask = try sample.withUnsafeBytes { try opener.headerProtectionMask(sample: $0) }
        let total = packet.count
        let length: Int
        do {
            length = try packet.withUnsafeMutableBytes { buffer in
                try opener.open(
                    packetNumber: packetNumber, buffer: buffer, headerStart: 0, payloadStart: header.count, end: total)
            }
        } catch PacketProtectionError.authenticationFailed {
            return false
        }
        return length == payload.count && Array(packet[header.count..<header.count + length]) == payload
            && sealMask == openMask
    }
}

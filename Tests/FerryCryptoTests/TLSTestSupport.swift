import XCTest

@testable import FerryCrypto

/// An in-memory TLS pair: CRYPTO bytes from one session are fed to the other, as the transport would, until
/// neither side produces anything new. No packets, no clock: only the handshake sessions.
final class TLSHandshakePair {
    let client: any HandshakeSession
    let server: any HandshakeSession
    /// Deliver CRYPTO data in chunks of at most this many bytes (nil: as produced).
    var chunkSize: Int?

    private(set) var clientWriteKeys: [EncryptionLevel: any PacketProtector] = [:]
    private(set) var clientReadKeys: [EncryptionLevel: any PacketProtector] = [:]
    private(set) var serverWriteKeys: [EncryptionLevel: any PacketProtector] = [:]
    private(set) var serverReadKeys: [EncryptionLevel: any PacketProtector] = [:]
    private(set) var clientCompleted = false
    private(set) var serverCompleted = false
    private(set) var clientError: HandshakeError?
    private(set) var serverError: HandshakeError?
    /// Every CRYPTO byte each side emitted, per level.
    private(set) var clientSent: [EncryptionLevel: [UInt8]] = [:]
    private(set) var serverSent: [EncryptionLevel: [UInt8]] = [:]
    /// Order in which `.complete` and keys arrived, per side, for ordering assertions.
    private(set) var clientEventLog: [String] = []
    private(set) var serverEventLog: [String] = []

    private var toServer: [EncryptionLevel: [UInt8]] = [:]
    private var toClient: [EncryptionLevel: [UInt8]] = [:]

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
            progress = drainClient() || progress
            progress = drainServer() || progress
            progress = deliverToServer() || progress
            progress = deliverToClient() || progress
        }
    }

    private func drainClient() -> Bool {
        var progress = false
        do {
            while let event = try client.pollEvent() {
                progress = true
                switch event {
                case .cryptoData(let bytes, let level):
                    toServer[level, default: []] += bytes
                    clientSent[level, default: []] += bytes
                case .writeKeys(let protector, let level):
                    clientWriteKeys[level] = protector
                    clientEventLog.append("write-\(level)")
                case .readKeys(let protector, let level):
                    clientReadKeys[level] = protector
                    clientEventLog.append("read-\(level)")
                case .complete:
                    clientCompleted = true
                    clientEventLog.append("complete")
                }
            }
        } catch {
            clientError = error
            return true
        }
        return progress
    }

    private func drainServer() -> Bool {
        var progress = false
        do {
            while let event = try server.pollEvent() {
                progress = true
                switch event {
                case .cryptoData(let bytes, let level):
                    toClient[level, default: []] += bytes
                    serverSent[level, default: []] += bytes
                case .writeKeys(let protector, let level):
                    serverWriteKeys[level] = protector
                    serverEventLog.append("write-\(level)")
                case .readKeys(let protector, let level):
                    serverReadKeys[level] = protector
                    serverEventLog.append("read-\(level)")
                case .complete:
                    serverCompleted = true
                    serverEventLog.append("complete")
                }
            }
        } catch {
            serverError = error
            return true
        }
        return progress
    }

    /// Delivers pending bytes at the lowest level the server can read (like a transport, which can only decrypt
    /// a level's packets once it has that level's read keys).
    private func deliverToServer() -> Bool {
        for level in EncryptionLevel.allCases {
            guard let bytes = toServer[level], !bytes.isEmpty else { continue }
            guard level == .initial || serverReadKeys[level] != nil else { continue }
            toServer[level] = []
            do {
                try deliver(bytes, level: level, to: server)
            } catch let error as HandshakeError {
                serverError = error
            } catch {
                serverError = HandshakeError(alert: 0, reason: "unexpected error \(error)")
            }
            return true
        }
        return false
    }

    private func deliverToClient() -> Bool {
        for level in EncryptionLevel.allCases {
            guard let bytes = toClient[level], !bytes.isEmpty else { continue }
            guard level == .initial || clientReadKeys[level] != nil else { continue }
            toClient[level] = []
            do {
                try deliver(bytes, level: level, to: client)
            } catch let error as HandshakeError {
                clientError = error
            } catch {
                clientError = HandshakeError(alert: 0, reason: "unexpected error \(error)")
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

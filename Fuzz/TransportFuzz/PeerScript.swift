import FerryTestSupport
import FerryTransport

// The handshake messages of TestCryptoProvider's scripted TLS stand-in, written by the fuzzer when it plays the
// peer of a real endpoint. They follow the shape of TLS 1.3 in QUIC (RFC 9001 §4.1): ClientHello and ServerHello
// in Initial packets, the server's extensions and the client's Finished in Handshake packets. Each message is
// `type (1) | length (3) | body`.

enum PeerScript {
    /// The ALPN both sides of the fuzz world use.
    static let alpn = Array("test".utf8)
    /// The identity the fuzzer presents as a client (TestCryptoProvider seed 1).
    static let clientIdentity = TestCryptoProvider.makeIdentity(seed: 1)
    /// The identity the real client expects and the fuzzer presents as a server (seed 2).
    static let serverIdentity = TestCryptoProvider.makeIdentity(seed: 2)
    /// The stateless reset token the fuzzer's server advertises, so forged stateless resets can match it
    /// (RFC 9000 §10.3).
    static let resetToken: [UInt8] = Array(0xA0...0xAF)

    static func message(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        [type, UInt8(truncatingIfNeeded: body.count >> 16), UInt8(truncatingIfNeeded: body.count >> 8),
         UInt8(truncatingIfNeeded: body.count)] + body
    }

    /// A CRYPTO frame (RFC 9000 §19.6) carrying `data` at `offset`.
    static func cryptoFrame(offset: UInt64, _ data: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x06]
        PacketForge.appendVarInt(offset, to: &frame)
        PacketForge.appendVarInt(UInt64(data.count), to: &frame)
        return frame + data
    }

    /// Transport parameters a well-behaved peer would send (RFC 9000 §18.2), plus `extra` raw parameter bytes the
    /// fuzzer chooses (unknown, duplicate or malformed ones: §7.4, §18).
    static func transportParameters(
        side: Side, initialSource: ConnectionID, originalDestination: ConnectionID?, extra: ArraySlice<UInt8>
    ) -> [UInt8] {
        var parameters = TransportParameters(
            maxIdleTimeout: 30_000, maxUDPPayloadSize: 1452, initialMaxData: 1 << 20,
            initialMaxStreamDataBidiLocal: 1 << 18, initialMaxStreamDataBidiRemote: 1 << 18,
            initialMaxStreamDataUni: 1 << 18, initialMaxStreamsBidi: 16, initialMaxStreamsUni: 16,
            activeConnectionIDLimit: 4, initialSourceConnectionID: initialSource, maxDatagramFrameSize: 65535,
            addressDiscovery: .provideAndReceive)
        if side == .server {
            parameters.originalDestinationConnectionID = originalDestination
            parameters.statelessResetToken = StatelessResetToken(resetToken)
            parameters.natTraversal = .server(concurrencyLimit: 3)
        } else {
            parameters.natTraversal = .client
        }
        return parameters.encoded() + extra
    }

    /// The client's first flight: a ClientHello offering `alpn`, with this side's identity and parameters.
    static func clientHello(random: UInt64, alpn: [UInt8], parameters: [UInt8]) -> [UInt8] {
        var body = bytes(of: random)
        body.append(1)
        body.append(UInt8(truncatingIfNeeded: alpn.count))
        body += alpn
        body += clientIdentity.rawValue
        body += [UInt8(truncatingIfNeeded: parameters.count >> 8), UInt8(truncatingIfNeeded: parameters.count)]
        body += parameters
        return message(1, body)
    }

    /// The server's Initial flight: a ServerHello with its random.
    static func serverHello(random: UInt64) -> [UInt8] { message(2, bytes(of: random)) }

    /// The server's Handshake flight: ALPN, identity and transport parameters.
    static func encryptedExtensions(alpn: [UInt8], identity: EndpointID, parameters: [UInt8]) -> [UInt8] {
        var body = [UInt8(truncatingIfNeeded: alpn.count)] + alpn + identity.rawValue
        body += [UInt8(truncatingIfNeeded: parameters.count >> 8), UInt8(truncatingIfNeeded: parameters.count)]
        return message(3, body + parameters)
    }

    /// The client's Handshake flight: Finished.
    static let finished = message(4, [])

    static func bytes(of value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}

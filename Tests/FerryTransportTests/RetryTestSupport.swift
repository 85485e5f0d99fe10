import XCTest
import FerryTestSupport
@testable import FerryTransport

/// A client/server pair whose server uses `policy` for address validation (RFC 9000 §8.1).
func makeAddressValidationNetwork(
    requiresRetry: Bool = false,
    issuesNewTokens: Bool = true,
    statelessResetsPerSecond: Int = 100,
    seed: UInt64 = 1
) -> SimulatedNetwork {
    let policy = AddressValidationConfig(
        requiresRetry: requiresRetry, tokenKey: [UInt8](repeating: 7, count: 32), issuesNewTokens: issuesNewTokens,
        statelessResetsPerSecond: statelessResetsPerSecond)
    return SimulatedNetwork(
        clientConfig: EndpointConfig(crypto: TestCryptoProvider(identitySeed: 1)),
        serverConfig: EndpointConfig(
            crypto: TestCryptoProvider(identitySeed: 2), statelessResetKey: [UInt8](repeating: 9, count: 32),
            addressValidation: policy),
        seed: seed)
}

/// A Retry packet for `client`'s current attempt, with a valid integrity tag unless `corruptTag`.
func makeRetry(
    for client: TransportConnection, source: ConnectionID, token: [UInt8], corruptTag: Bool = false
) throws -> [UInt8] {
    let withoutTag = PacketWriter.encodeRetryWithoutTag(
        version: QUICVersion.version1, destinationConnectionID: client.sourceConnectionID, sourceConnectionID: source,
        token: token)
    var tag = try RetryIntegrity.tag(
        retryPacketWithoutTag: withoutTag, originalDestinationConnectionID: client.originalDestinationConnectionID.bytes)
    if corruptTag { tag[0] ^= 0x01 }
    return withoutTag + tag
}

/// The transport error a `closed` event carries, if any.
func closeErrorCode(_ event: ConnectionEvent) -> TransportError.Code? {
    guard case .closed(.transportError(let error, _)) = event else { return nil }
    return error.code
}

/// Every datagram `role` sends from now on.
final class DatagramRecorder {
    var datagrams: [SimulatedNetwork.Role: [[UInt8]]] = [:]

    init(_ network: SimulatedNetwork) {
        network.onDatagram = { [unowned self] role, bytes in self.datagrams[role, default: []].append(bytes) }
    }

    func sent(by role: SimulatedNetwork.Role) -> [[UInt8]] { datagrams[role] ?? [] }
}

extension ConnectionID {
    /// A connection ID of `count` copies of `byte`, for hand-made packets.
    static func repeating(_ byte: UInt8, count: Int) -> ConnectionID {
        ConnectionID([UInt8](repeating: byte, count: count)) ?? .empty
    }
}

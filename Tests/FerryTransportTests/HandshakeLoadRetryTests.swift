import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Retry by load (`AddressValidationConfig.retryAboveHandshakes`): a flood of Initials from many addresses
/// (RFC 9000 §21.2) costs a bounded number of half-open connections, and a real client still connects.
final class HandshakeLoadRetryTests: XCTestCase {
    /// A server that switches to Retry once `limit` incoming handshakes are open.
    private func makeNetwork(limit: Int?) -> SimulatedNetwork {
        let policy = AddressValidationConfig(
            tokenKey: [UInt8](repeating: 7, count: 32), retryAboveHandshakes: limit)
        return SimulatedNetwork(
            clientConfig: EndpointConfig(crypto: TestCryptoProvider(identitySeed: 1)),
            serverConfig: EndpointConfig(
                crypto: TestCryptoProvider(identitySeed: 2), statelessResetKey: [UInt8](repeating: 9, count: 32),
                addressValidation: policy))
    }

    /// Delivers `count` first Initials, each from its own client endpoint and source address, that never answer
    /// what the server sends back: the shape of a flood with spoofed sources.
    private func flood(_ network: SimulatedNetwork, count: Int) throws {
        var buffer = [UInt8](repeating: 0, count: 65_535)
        for index in 0..<count {
            let attacker = TransportEndpoint(
                config: EndpointConfig(crypto: TestCryptoProvider(identitySeed: UInt8(100 + index))))
            _ = try attacker.connect(
                to: network.serverAddress, expectedPeer: SimulatedNetwork.testServerIdentity, alpns: [Array("test".utf8)],
                now: network.now)
            let transmit = try XCTUnwrap(buffer.withUnsafeMutableBytes { pointer in
                attacker.pollTransmit(now: network.now, into: pointer)
            })
            let source = try XCTUnwrap(NetworkAddress(
                ipBytes: [198, 18, UInt8(index >> 8), UInt8(index & 0xff)], port: 40_000))
            var datagram = Array(buffer[0..<transmit.size])
            network.server.handle(datagram: &datagram, from: source, now: network.now)
        }
    }

    func testFloodBeyondTheLimitGetsRetriesNotConnections() throws {
        let network = makeNetwork(limit: 8)
        try flood(network, count: 40)
        XCTAssertEqual(network.server.connectionCount, 8, "only the first 8 attempts get handshake state")
        XCTAssertEqual(network.server.incomingHandshakes, 8)
        XCTAssertEqual(network.server.loadRetriesSent, 32)
        XCTAssertEqual(network.server.retriesSent, 32)
    }

    func testRealClientConnectsThroughTheFloodAndHalfOpenStateDrains() throws {
        let network = makeNetwork(limit: 8)
        try flood(network, count: 40)
        // The real client's first Initial meets the limit, gets a Retry, and comes back validated.
        let handle = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(5)))
        XCTAssertEqual(network.server.loadRetriesSent, 33)
        XCTAssertEqual(network.server.incomingHandshakes, 8, "the validated client's handshake is done")
        // The flood's half-open connections time out and free their slots; the real one stays.
        XCTAssertTrue(network.run(until: { network.server.incomingHandshakes == 0 }, timeLimit: .seconds(120)))
        XCTAssertEqual(network.server.connectionCount, 1)
        XCTAssertTrue(network.client.connection(handle)?.isHandshakeConfirmed ?? false)
    }

    func testBelowTheLimitNoRetryIsSent() throws {
        let network = makeNetwork(limit: 8)
        let handle = try network.connect()
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(5)))
        XCTAssertEqual(network.server.retriesSent, 0)
        XCTAssertEqual(network.server.incomingHandshakes, 0)
    }

    func testNoLimitMeansNoRetryByLoad() throws {
        let network = makeNetwork(limit: nil)
        try flood(network, count: 40)
        XCTAssertEqual(network.server.connectionCount, 40)
        XCTAssertEqual(network.server.loadRetriesSent, 0)
    }
}

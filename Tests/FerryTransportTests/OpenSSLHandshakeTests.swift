import XCTest
import FerryTestSupport
@testable import FerryTransport

/// The same transport driven by the real TLS 1.3 stack (OpenSSL) and AEAD packet protection.
final class OpenSSLHandshakeTests: XCTestCase {
    func makeNetwork(conditions: LinkConditions = LinkConditions(), serverALPNs: [[UInt8]] = [Array("perf".utf8)])
        throws -> (SimulatedNetwork, EndpointIdentity, EndpointIdentity)
    {
        let clientIdentity = EndpointIdentity.generate()
        let serverIdentity = EndpointIdentity.generate()
        let clientCrypto = try OpenSSLCryptoProvider(identity: clientIdentity, serverALPNs: [])
        let serverCrypto = try OpenSSLCryptoProvider(identity: serverIdentity, serverALPNs: serverALPNs)
        let network = SimulatedNetwork(
            clientConfig: EndpointConfig(crypto: clientCrypto),
            serverConfig: EndpointConfig(crypto: serverCrypto),
            conditions: conditions)
        return (network, clientIdentity, serverIdentity)
    }

    func testHandshakeAndTransferWithOpenSSL() throws {
        let (network, clientIdentity, serverIdentity) = try makeNetwork()
        let harness = StreamHarness(network: network)
        harness.onStreamFinished = { role, handle, stream, bytes in
            guard role == .server else { return }
            harness.send(bytes, on: stream, role: .server, handle: handle)
        }
        let handle = try network.connect(expectedPeer: serverIdentity.id, alpns: [Array("perf".utf8)])
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, "closed: \(harness.closedEvents)")
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertEqual(client.peerIdentity, serverIdentity.id)
        XCTAssertEqual(client.negotiatedALPN, Array("perf".utf8))
        let server = try XCTUnwrap(network.serverConnection)
        XCTAssertEqual(server.peerIdentity, clientIdentity.id)

        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        let payload = patternBytes(count: 300_000)
        harness.send(payload, on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(20)) {
            harness.finishedStreams[.client]?.contains(stream) ?? false
        })
        XCTAssertTrue(harness.received[.client]?[stream] == payload)
    }

    func testOpenSSLHandshakeUnderLoss() throws {
        let (network, _, serverIdentity) = try makeNetwork(conditions: LinkConditions(lossRate: 0.2))
        let harness = StreamHarness(network: network)
        let handle = try network.connect(expectedPeer: serverIdentity.id, alpns: [Array("perf".utf8)])
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, "closed: \(harness.closedEvents)")
    }

    func testOpenSSLWrongIdentityFails() throws {
        let (network, _, _) = try makeNetwork()
        let harness = StreamHarness(network: network)
        _ = try network.connect(expectedPeer: EndpointIdentity.generate().id, alpns: [Array("perf".utf8)])
        XCTAssertTrue(harness.run(timeLimit: .seconds(5)) { harness.closedEvents.contains { $0.0 == .client } })
        guard case .tlsFailure? = harness.closedEvents.first(where: { $0.0 == .client })?.1 else {
            return XCTFail("unexpected \(harness.closedEvents)")
        }
    }
}

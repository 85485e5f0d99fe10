import Ferry
import FerryCrypto
import FerryRelay
import XCTest

/// Two endpoints that only know each other's id connect through a relay on loopback.
final class RelayEndToEndTests: XCTestCase {
    func testEndpointsConnectByIDAloneThroughTheRelay() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"])
        let client = try await relayedEndpoint(relays: [relayAddress])
        let echoTask = serveEcho(server)
        let serverIsRelayed = await server.waitUntilRelayed()
        XCTAssertTrue(serverIsRelayed)

        let connection = try await withTimeout(20) {
            try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1")
        }
        XCTAssertEqual(connection.remoteID, server.id)
        XCTAssertEqual(connection.remoteAddress, relayAddress.address, "a relayed connection names its relay")
        let paths = await connection.paths
        XCTAssertEqual(paths.first?.kind, .relayed(relay: relayAddress.id))
        XCTAssertEqual(paths.first?.remoteAddress, relayAddress.address)
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let reply = try await withTimeout(20) { try await echo(payload, over: connection) }
        XCTAssertEqual(reply, payload)

        let statuses = await client.relayStatus()
        XCTAssertEqual(statuses.count, 1)
        XCTAssertTrue(statuses[0].isReady)
        XCTAssertTrue(statuses[0].isHome)
        XCTAssertEqual(statuses[0].transport, .udp)
        XCTAssertEqual(statuses[0].observedAddress, client.localAddress, "the relay reports the address it sees (QUIC address discovery)")
        XCTAssertGreaterThan(statuses[0].packetsSent, 100)
        XCTAssertGreaterThan(statuses[0].packetsReceived, 10)
        XCTAssertEqual(relay.status().clients["udp"], 2)
        XCTAssertGreaterThan(relay.status().packetsForwarded, 200)

        connection.close()
        echoTask.cancel()
        await client.close()
        await server.close()
        await relay.shutdown()
    }

    func testDialingAnIDTheRelayDoesNotKnowFailsFast() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let client = try await relayedEndpoint(relays: [relayAddress])
        let absent = EndpointIdentity.generate().id
        let linked = await client.waitUntilRelayed()
        XCTAssertTrue(linked)
        let started = ContinuousClock.now
        do {
            _ = try await withTimeout(10) { try await client.connect(to: EndpointAddress(id: absent), alpn: "echo/1") }
            XCTFail("connected to an id nobody holds")
        } catch let error as ConnectionError {
            XCTAssertEqual(error, .peerUnreachable(absent, relay: relayAddress.id))
        }
        // Far below the handshake's idle timeout (30 s): the relay's answer ended it.
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(6))
        XCTAssertEqual(relay.status().drops["not_connected", default: 0] > 0, true)
        await client.close()
        await relay.shutdown()
    }

    func testWithoutRelaysAnIDAloneHasNoRoute() async throws {
        let endpoint = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let peer = EndpointIdentity.generate().id
        do {
            _ = try await endpoint.connect(to: EndpointAddress(id: peer), alpn: "echo/1")
            XCTFail("connected without any route")
        } catch {
            XCTAssertEqual(error, .noRoute(peer))
        }
        await endpoint.close()
    }
}

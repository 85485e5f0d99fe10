import Ferry
import FerryCrypto
import FerryRelay
import XCTest

/// Malformed messages, unauthorised clients and floods: each affects only the client at fault.
final class RelayBadInputTests: XCTestCase {
    /// A raw relay connection (no relay client): the test speaks the protocol itself.
    func rawRelayConnection(to relay: RelayAddress, identity: EndpointIdentity = .generate()) async throws -> (Endpoint, Connection, SendStream) {
        let endpoint = try await Endpoint.bind(host: "127.0.0.1", identity: identity, alpns: [])
        let connection = try await endpoint.connect(to: relay.endpointAddress, alpn: RelayMessage.alpn)
        let (send, _) = try await connection.openBidirectionalStream()
        return (endpoint, connection, send)
    }

    func hello(token: String = "") -> [UInt8] {
        var bytes: [UInt8] = []
        RelayFrameDecoder.frame(.clientHello(version: RelayMessage.version, isMeshPeer: false, token: Array(token.utf8)), into: &bytes)
        return bytes
    }

    func testAMalformedMessageClosesOnlyThatClientWithAReason() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"])
        let client = try await relayedEndpoint(relays: [relayAddress])
        let echoTask = serveEcho(server)
        let serverLinked = await server.waitUntilRelayed()
        XCTAssertTrue(serverLinked)
        let good = try await withTimeout(20) { try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1") }

        let (rawEndpoint, raw, send) = try await rawRelayConnection(to: relayAddress)
        try await send.write(hello())
        try await raw.sendDatagram([0x99, 1, 2, 3])
        let reason = await withTimeoutValue(10) { await raw.closed }
        guard case .applicationClosed(let code, let text, .peer) = reason else {
            return XCTFail("expected the relay to close with a reason, got \(String(describing: reason))")
        }
        XCTAssertEqual(code, 0x1)
        XCTAssertTrue(text.contains("unknown relay message type 0x99"), text)

        // A truncated send_packet (no packet after the id) on the stream is refused the same way.
        let (rawEndpoint2, raw2, send2) = try await rawRelayConnection(to: relayAddress)
        var bad = hello()
        bad += [0, 33, RelayMessage.TypeCode.sendPacket.rawValue] + [UInt8](repeating: 7, count: 32)
        try await send2.write(bad)
        let reason2 = await withTimeoutValue(10) { await raw2.closed }
        guard case .applicationClosed(0x1, let text2, .peer) = reason2 else {
            return XCTFail("expected a protocol violation, got \(String(describing: reason2))")
        }
        XCTAssertTrue(text2.contains("bad length"), text2)

        // The other clients never noticed.
        let reply = try await withTimeout(20) { try await echo(Array("still relayed".utf8), over: good) }
        XCTAssertEqual(reply, Array("still relayed".utf8))
        XCTAssertEqual(relay.status().clients["udp"], 2)

        echoTask.cancel()
        for endpoint in [client, server, rawEndpoint, rawEndpoint2] { await endpoint.close() }
        await relay.shutdown()
    }

    func testATokenRelayRefusesAWrongTokenWithAReason() async throws {
        let relay = try await startRelay(extra: ["access = \"token\"", "token = \"open sesame\""])
        let relayAddress = try XCTUnwrap(relay.address)
        let (rawEndpoint, raw, send) = try await rawRelayConnection(to: relayAddress)
        try await send.write(hello(token: "guess"))
        let reason = await withTimeoutValue(10) { await raw.closed }
        guard case .applicationClosed(0x2, let text, .peer) = reason else {
            return XCTFail("expected unauthorized, got \(String(describing: reason))")
        }
        XCTAssertEqual(text, "wrong relay token")

        // With the token, an endpoint links and is reachable.
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"], token: "open sesame")
        let linked = await server.waitUntilRelayed()
        XCTAssertTrue(linked)
        XCTAssertEqual(relay.status().clients["udp"], 1)
        await server.close()
        await rawEndpoint.close()
        await relay.shutdown()
    }

    func testAnAllowlistRelayRefusesOtherIDsInTheHandshake() async throws {
        let allowed = EndpointIdentity.generate()
        let relay = try await startRelay(extra: ["access = \"allowlist\"", "allow = [\"\(allowed.id.hex)\"]"])
        let relayAddress = try XCTUnwrap(relay.address)
        let stranger = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        do {
            let connection = try await stranger.connect(to: relayAddress.endpointAddress, alpn: RelayMessage.alpn)
            // The hook runs after TLS; the refusal arrives as the connection's close.
            let reason = await withTimeoutValue(10) { await connection.closed }
            // Policy hooks close with their own code: 403 for the built-in ones, as in ferryd.
            guard case .applicationClosed(403, let text, .peer) = reason else {
                return XCTFail("expected the access hook's refusal, got \(String(describing: reason))")
            }
            XCTAssertTrue(text.contains("access"), text)
        } catch {
            guard case .closed(.applicationClosed(403, let text, .peer)) = error else {
                return XCTFail("expected the access hook's refusal, got \(error)")
            }
            XCTAssertTrue(text.contains("access"), text)
        }
        let member = try await relayedEndpoint(relays: [relayAddress], identity: allowed)
        let linked = await member.waitUntilRelayed()
        XCTAssertTrue(linked)
        await member.close()
        await stranger.close()
        await relay.shutdown()
    }
}

/// The value of `body`, or nil after `seconds`.
func withTimeoutValue<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

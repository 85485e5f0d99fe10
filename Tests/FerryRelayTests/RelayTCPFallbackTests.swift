import Ferry
import FerryCrypto
import FerryRelay
import XCTest

/// An endpoint that cannot reach the relay over UDP links over TLS on TCP by itself (docs/relay.md §4.3).
final class RelayTCPFallbackTests: XCTestCase {
    func testAClientWithoutUDPFallsBackToTCPAndStillReachesPeers() async throws {
        let udpPort = try freePort()
        let tcpPort = try freePort()
        let relay = try await startRelay(extra: ["tcp_listen = [\"127.0.0.1:\(tcpPort)\"]"], port: udpPort)
        let relayAddress = try XCTUnwrap(relay.address)
        XCTAssertEqual(relay.tcpAddresses.first?.port, tcpPort)
        let server = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"])
        let echoTask = serveEcho(server)

        // Nothing answers UDP at the port this client is given, so its QUIC dial cannot succeed; TCP can.
        let deadPort = try freePort()
        var configuration = EndpointConfiguration(
            relays: [RelayAddress(id: relayAddress.id, address: HostPort(host: "127.0.0.1", port: deadPort))],
            pathMode: .relayOnly)
        configuration.relayTCPPort = tcpPort
        configuration.relayTCPFallbackDelay = .milliseconds(200)
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [], configuration: configuration)

        let linked = await client.waitUntilRelayed(timeout: .seconds(15))
        XCTAssertTrue(linked)
        let status = await client.relayStatus()
        XCTAssertEqual(status.first?.transport, .tcp)
        let serverLinked = await server.waitUntilRelayed()
        XCTAssertTrue(serverLinked)

        let connection = try await withTimeout(20) {
            try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1")
        }
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let reply = try await withTimeout(30) { try await echo(payload, over: connection) }
        XCTAssertEqual(reply, payload)
        XCTAssertEqual(relay.status().clients["tcp"], 1)
        XCTAssertEqual(relay.status().clients["udp"], 1)
        let kind = await connection.paths.first?.kind
        XCTAssertEqual(kind, .relayed(relay: relayAddress.id))

        connection.close()
        echoTask.cancel()
        await client.close()
        await server.close()
        await relay.shutdown()
    }

    func testATCPClientSendingGarbageIsClosedAndTheRelayCarriesOn() async throws {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let port = try XCTUnwrap(relay.tcpAddresses.first?.port)
        // A plain TCP connection that sends something other than a TLS ClientHello.
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let request = Array("GET / HTTP/1.1\r\nHost: relay\r\n\r\n".utf8)
        XCTAssertEqual(send(descriptor, request, request.count, 0), request.count)
        // The relay answers with an alert and closes: reading reaches the end.
        var buffer = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            total += count
        }
        XCTAssertLessThan(total, 4096)
        let endpoint = try await relayedEndpoint(relays: [relayAddress], alpns: ["echo/1"])
        let linked = await endpoint.waitUntilRelayed()
        XCTAssertTrue(linked)
        await endpoint.close()
        await relay.shutdown()
    }
}

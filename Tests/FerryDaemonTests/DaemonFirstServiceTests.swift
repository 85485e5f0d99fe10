import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// A daemon started without any `[[services]]` (a tunnels-only client, say) still binds its endpoint to accept,
/// so a reload can offer its first service; until then every handshake is refused in TLS.
final class DaemonFirstServiceTests: XCTestCase {
    func testReloadOffersTheFirstServiceOfADaemonStartedWithNone() async throws {
        let directory = TemporaryDirectory()
        let head = DaemonTOML.endpoint(keyFile: "a.key")
        let daemon = try await startDaemon(in: directory, "a.toml", head)
        let peer = try EndpointAddress(parsing: daemon.peerAddress)
        let client = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: .generate(), alpns: [])

        let refused = await tlsAlert(of: client, dialing: peer, alpn: "ferry/tcp/echo")
        XCTAssertEqual(refused, HandshakeError.noApplicationProtocol, "no service yet: refused in TLS, not dropped")

        directory.write("a.toml", head + DaemonTOML.service("echo", type: "echo"))
        let reload = await daemon.reload()
        XCTAssertTrue(reload.ok, "\(reload)")
        XCTAssertEqual(reload.needsRestart, [])
        XCTAssertEqual(daemon.config.services.map(\.name), ["echo"])
        let connection = try await client.connect(to: peer, alpn: "ferry/tcp/echo")
        let (send, receive) = try await connection.openBidirectionalStream()
        try await send.write(Array("first service".utf8), finish: true)
        let answer = try await receive.readToEnd(limit: 1 << 16)
        XCTAssertEqual(String(decoding: answer, as: UTF8.self), "first service")

        connection.close(code: 0, reason: "done")
        await client.close()
        await shutDown(daemon)
    }
}

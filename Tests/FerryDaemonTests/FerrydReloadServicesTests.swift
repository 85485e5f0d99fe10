import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// A real `ferryd` adding and removing `[[services]]` on SIGHUP and `ferry reload`, without a restart (issue 5:
/// "swaps the hook chain, services and tunnels atomically"; "allowed connections are never dropped").
///
/// The daemon starts with `echo` only. A stream on `echo` stays open throughout. Adding `fwd` makes it reachable
/// through `ferry connect` at once; removing `echo` refuses new clients in TLS (no_application_protocol,
/// CONNECTION_CLOSE 0x0178) while the connection already open stays up.
final class FerrydReloadServicesTests: XCTestCase {
    func testReloadAddsAndRemovesServicesWhileStreamsSurvive() async throws {
        try FerryBinaries.require()
        let directory = TemporaryDirectory()
        let forwardTarget = try DigestingEchoServer()
        let echoService = DaemonTOML.service("echo", type: "echo")
        let fwdService = DaemonTOML.service("fwd", forwardTo: forwardTarget.port)
        let head = DaemonTOML.endpoint(keyFile: "a.key", extra: ["shutdown_timeout = \"5s\""], controlSocket: "a.sock")
        directory.write("a.toml", head + echoService)
        let server = try FerrydProcess(directory: directory, config: "a.toml")
        let serverAddress = try server.address()
        let peer = try EndpointAddress(parsing: serverAddress)
        let client = try await Endpoint.bind(host: "127.0.0.1", port: 0, identity: .generate(), alpns: [])

        // Before the reload `fwd` is not offered: TLS refuses it.
        let refusedBefore = await tlsAlert(of: client, dialing: peer, alpn: "ferry/tcp/fwd")
        XCTAssertEqual(refusedBefore, HandshakeError.noApplicationProtocol)

        // A stream on `echo`, left open across every reload below.
        let kept = try await client.connect(to: peer, alpn: "ferry/tcp/echo")
        let (keptSend, keptReceive) = try await kept.openBidirectionalStream()
        try await keptSend.write(Array("before".utf8))
        let keptBefore = try await read(keptReceive, count: 6)
        XCTAssertEqual(keptBefore, "before")

        // SIGHUP with `fwd` added: reachable at once through `ferry connect`; nothing needs a restart.
        directory.write("a.toml", head + echoService + fwdService)
        XCTAssertEqual(server.reloadBySignal(), "READY=1\nSTATUS=reloaded")
        let added = try XCTUnwrap(try server.status().lastReload)
        XCTAssertTrue(added.ok, "\(added)")
        XCTAssertEqual(added.needsRestart, [])
        XCTAssertNotNil(server.log.waitFor("services changed", "fwd"), server.log.all.suffix(5).joined(separator: "\n"))
        let payload = Data("through the new service\n".utf8)
        let connectRun = try await offPool { try runProcess(FerryBinaries.ferry, ["connect", serverAddress, "fwd"], input: payload) }
        XCTAssertEqual(connectRun.status, 0, connectRun.error)
        XCTAssertEqual(connectRun.output, String(decoding: payload, as: UTF8.self))
        XCTAssertEqual(forwardTarget.digest(of: 0), SHA256.hex(Array(payload)), "the bytes reached fwd's forward target")
        try await keptSend.write(Array("after-add".utf8))
        let keptAfterAdd = try await read(keptReceive, count: 9)
        XCTAssertEqual(keptAfterAdd, "after-add", "the echo stream survived the reload")

        // `ferry reload` with `echo` removed: a new client is refused in TLS, the open connection stays.
        directory.write("a.toml", head + fwdService)
        let removeRun = try runFerry(["reload", "--socket", server.socketPath])
        XCTAssertEqual(removeRun.status, 0, removeRun.error)
        XCTAssertNotNil(server.notify.next("READY=1\nSTATUS=reloaded"))
        let refusedAfter = await tlsAlert(of: client, dialing: peer, alpn: "ferry/tcp/echo")
        XCTAssertEqual(refusedAfter, HandshakeError.noApplicationProtocol, "0x0178 for the removed service")
        try await keptSend.write(Array("after-remove".utf8))
        let keptAfterRemove = try await read(keptReceive, count: 12)
        XCTAssertEqual(keptAfterRemove, "after-remove", "the stream open on the removed service keeps relaying")
        try await keptSend.finish()
        let keptEnd = try await keptReceive.read()
        XCTAssertNil(keptEnd, "the echo finished its side in turn")
        let keptReason = await kept.closeReason
        XCTAssertNil(keptReason, "the connection on the removed service was not dropped")
        let status = try server.status()
        XCTAssertEqual(status.services.map { $0.hasPrefix("fwd") }, [true], "\(status.services)")

        kept.close(code: 0, reason: "done")
        await client.close()
        let stop = server.terminate()
        XCTAssertEqual(stop.status, 0)
        withExtendedLifetime(forwardTarget) {}
    }

    // MARK: Helpers

    /// Reads exactly `count` bytes (the echo may answer in several chunks).
    private func read(_ receive: ReceiveStream, count: Int) async throws -> String {
        var bytes: [UInt8] = []
        while bytes.count < count, let chunk = try await receive.read(maxLength: count - bytes.count) {
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The TLS alert a dial to `alpn` failed with (120, no_application_protocol, for a service the peer does not
/// offer), or nil when it connected or failed otherwise.
func tlsAlert(of endpoint: Endpoint, dialing peer: EndpointAddress, alpn: String) async -> UInt8? {
    do {
        let connection = try await endpoint.connect(to: peer, alpn: alpn)
        connection.close(code: 0, reason: "not expected to connect")
        return nil
    } catch {
        guard case .closed(.tlsFailure(let alert, _, .peer)) = error else { return nil }
        return alert
    }
}

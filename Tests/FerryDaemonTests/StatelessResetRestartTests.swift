import Ferry
import Foundation
import XCTest

@testable import FerryDaemon

/// RFC 9000 §10.3: a peer of a restarted ferryd learns at once that its connection is gone, because the restarted
/// daemon derives the same stateless-reset key from its identity (EndpointIdentity+DerivedKeys.swift).
final class StatelessResetRestartTests: XCTestCase {
    func testAPeerOfAKilledAndRestartedDaemonGetsAValidStatelessReset() async throws {
        try FerryBinaries.require()
        let directory = TemporaryDirectory()
        try EndpointIdentity.generate().save(toFile: directory.path + "/a.key")
        func config(port: Int) -> String {
            """
            [endpoint]
            key_file = "a.key"
            listen = ["127.0.0.1:\(port)"]
            [control]
            socket = "a.sock"
            [[services]]
            name = "echo"
            forward = "127.0.0.1:9"
            """
        }
        directory.write("a.toml", config(port: 0))
        let first = try FerrydProcess(directory: directory, config: "a.toml")
        let address = try EndpointAddress(parsing: try first.address())
        let port = try XCTUnwrap(address.directAddresses.first?.port)

        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let connection = try await client.connect(to: address, alpn: "ferry/tcp/echo")

        // Gone without a CONNECTION_CLOSE, then back on the same address with the same key.
        kill(first.pid, SIGKILL)
        first.process.waitUntilExit()
        directory.write("a.toml", config(port: Int(port)))
        let second = try FerrydProcess(directory: directory, config: "a.toml")
        XCTAssertEqual(try second.address(), try first.address())

        // The client's next packet reaches a daemon with no state for it: the reset it gets back must carry the
        // token the first daemon issued, or the client would wait for its 30 s idle timeout.
        let started = ContinuousClock.now
        let (send, _) = try await connection.openBidirectionalStream()
        try? await send.write(Array(repeating: 0x61, count: 200))
        let reason = await connection.closed
        XCTAssertEqual(reason, .statelessReset)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
        await client.close()
        _ = second.terminate()
    }
}

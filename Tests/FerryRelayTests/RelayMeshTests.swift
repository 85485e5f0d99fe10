import Ferry
import FerryCrypto
import FerryRelay
import Foundation
import XCTest

/// Two relays in a mesh: endpoints homed on different relays reach each other by id (docs/relay.md §5).
final class RelayMeshTests: XCTestCase {
    func testEndpointsOnDifferentRelaysOfAMeshConnectByID() async throws {
        let directory = NSTemporaryDirectory() + "ferry-mesh-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let identities = [EndpointIdentity.generate(), EndpointIdentity.generate()]
        let keys = try identities.enumerated().map { index, identity in
            let path = "\(directory)/relay\(index).key"
            try identity.save(toFile: path)
            return path
        }
        let ports = try [freePort(), freePort()]
        let addresses = zip(identities, ports).map { RelayAddress(id: $0.id, address: HostPort(host: "127.0.0.1", port: $1)) }
        let relay1 = try await startRelay(mesh: [addresses[1]], keyFile: keys[0], port: ports[0])
        let relay2 = try await startRelay(mesh: [addresses[0]], keyFile: keys[1], port: ports[1])

        let server = try await relayedEndpoint(relays: [addresses[1]], alpns: ["echo/1"])
        let client = try await relayedEndpoint(relays: [addresses[0]])
        let echoTask = serveEcho(server)
        let linked = await server.waitUntilRelayed()
        XCTAssertTrue(linked)
        // relay1 learns of the server from relay2's announcement over the mesh link.
        try await waitFor("relay1 to learn the server's id from relay2") {
            relay1.status().meshDirectory >= 1 && relay2.status().mesh.allSatisfy(\.linked)
                && relay1.status().mesh.allSatisfy(\.linked)
        }
        let connection = try await withTimeout(20) {
            try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1")
        }
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let reply = try await withTimeout(20) { try await echo(payload, over: connection) }
        XCTAssertEqual(reply, payload)
        XCTAssertGreaterThan(relay1.status().packetsForwarded, 0)
        XCTAssertGreaterThan(relay2.status().packetsForwarded, 0)

        // A relay that is not in the mesh list cannot join it.
        let outsider = try await startRelay(mesh: [addresses[0]])
        let outsiderAddress = try XCTUnwrap(outsider.address)
        XCTAssertFalse(relay1.status().mesh.contains { $0.relay == outsiderAddress.description })

        connection.close()
        echoTask.cancel()
        await client.close()
        await server.close()
        await outsider.shutdown()
        await relay1.shutdown()
        await relay2.shutdown()
    }
}

/// A UDP and TCP port free on 127.0.0.1 right now (bound and released; another process could take it, which on
/// a test machine is not a concern worth more machinery).
func freePort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else { throw RelayTestTimeout() }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}

/// Waits (at most 20 s) until `condition` holds, checking every 10 ms after running `sampling` (which may read
/// async state into something `condition` looks at).
func waitFor(
    _ what: String, file: StaticString = #filePath, line: UInt = #line, _ condition: @escaping @Sendable () -> Bool,
    sampling: @Sendable () async -> Void = {}
) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while true {
        await sampling()
        if condition() { return }
        guard ContinuousClock.now < deadline else {
            XCTFail("timed out waiting for \(what)", file: file, line: line)
            throw RelayTestTimeout()
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A value shared between a waiting test and the closures it samples with.
final class TestBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

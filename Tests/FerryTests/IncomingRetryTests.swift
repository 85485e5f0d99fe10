import Ferry
import XCTest

/// Records every incoming attempt and answers each with `.retry` (RFC 9000 §8.1.2).
actor RetryObservations {
    var infos: [IncomingInfo] = []

    func record(_ info: IncomingInfo) { infos.append(info) }
}

struct AlwaysRetryHook: EndpointHooks {
    let observations: RetryObservations

    func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        await observations.record(info)
        return .retry
    }
}

/// The incoming hook's `.retry` outcome in the runtime: a Retry goes out, the client's second attempt arrives
/// validated with the ClientHello's ALPNs visible, and `.retry` on a validated attempt connects.
final class IncomingRetryTests: XCTestCase {
    func testRetryLeadsToValidatedSecondAttemptThatConnects() async throws {
        let observations = RetryObservations()
        let server = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"], hooks: [AlwaysRetryHook(observations: observations)])
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await withTimeout(20) {
            let acceptedTask = Task { await server.incomingConnections.first { _ in true } }
            let connection = try await client.connect(to: server.address, alpn: "echo/1")
            let accepted = await acceptedTask.value
            XCTAssertNotNil(accepted)
            let infos = await observations.infos
            XCTAssertEqual(infos.map(\.isAddressValidated), [false, true], "one Retry, then a validated attempt")
            XCTAssertEqual(infos.last?.alpns, ["echo/1"])
            XCTAssertEqual(infos.last?.remoteAddress, client.localAddress)
            connection.close(code: 0, reason: "done")
        }
        await client.close()
        await server.close()
    }
}

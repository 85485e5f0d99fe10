import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Held incoming attempts (the runtime's incoming filter, RFC 9000 §8.1): what an attempt reveals, and the
/// stateless answers — Retry, refusal, silence — plus the ClientHello ALPN reader's tolerance of bad input.
final class IncomingTests: XCTestCase {
    /// Runs until the server holds a new attempt, and returns it.
    func nextAttempt(_ network: SimulatedNetwork, file: StaticString = #filePath, line: UInt = #line) -> IncomingAttempt? {
        var attempt: IncomingAttempt?
        XCTAssertTrue(network.run(until: {
            attempt = network.server.pollIncoming()
            return attempt != nil
        }, timeLimit: .seconds(2)), "no incoming attempt", file: file, line: line)
        return attempt
    }

    func testRetryThenValidatedAttemptIsAccepted() throws {
        let network = makeAddressValidationNetwork()
        network.server.holdsIncoming = true
        let handle = try network.connect()
        let first = try XCTUnwrap(nextAttempt(network))
        XCTAssertFalse(first.isAddressValidated)
        XCTAssertNil(network.server.retryIncoming(first.id, now: network.now), "an unvalidated attempt gets a Retry")
        XCTAssertEqual(network.server.retriesSent, 1)
        XCTAssertEqual(network.server.heldIncomingCount, 0)

        let second = try XCTUnwrap(nextAttempt(network))
        XCTAssertTrue(second.isAddressValidated, "the second Initial carries a valid Retry token")
        XCTAssertNotNil(network.server.retryIncoming(second.id, now: network.now), "retry of a validated attempt accepts")
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(2)))
        XCTAssertEqual(network.server.retriesSent, 1)
    }

    func testRefusalIsStatelessConnectionRefused() throws {
        let network = makeAddressValidationNetwork()
        network.server.holdsIncoming = true
        _ = try network.connect()
        let attempt = try XCTUnwrap(nextAttempt(network))
        network.server.refuseIncoming(attempt.id, reason: "not today", now: network.now)
        XCTAssertEqual(network.server.connectionCount, 0)
        XCTAssertEqual(network.server.heldIncomingCount, 0)
        XCTAssertTrue(network.run(until: {
            network.events(of: .client).contains { event in
                guard case .closed(.transportError(let error, by: .peer)) = event else { return false }
                return error.code == .connectionRefused && error.reason == "not today"
            }
        }, timeLimit: .seconds(1)))
        XCTAssertEqual(network.server.connectionCount, 0)
    }

    func testIgnoreDropsSilently() throws {
        let network = makeAddressValidationNetwork()
        network.server.holdsIncoming = true
        let recorder = DatagramRecorder(network)
        _ = try network.connect()
        let attempt = try XCTUnwrap(nextAttempt(network))
        network.server.ignoreIncoming(attempt.id)
        _ = network.run(until: { false }, timeLimit: .milliseconds(100))
        XCTAssertTrue(recorder.sent(by: .server).isEmpty)
        XCTAssertEqual(network.server.connectionCount, 0)
    }

    func testAttemptCarriesClientHelloALPNsWithOpenSSL() throws {
        let serverIdentity = EndpointIdentity.generate()
        let network = SimulatedNetwork(
            clientConfig: EndpointConfig(crypto: try OpenSSLCryptoProvider(
                identity: EndpointIdentity.generate(), serverALPNs: [])),
            serverConfig: EndpointConfig(crypto: try OpenSSLCryptoProvider(
                identity: serverIdentity, serverALPNs: [Array("perf".utf8)])))
        network.server.holdsIncoming = true
        let handle = try network.connect(
            expectedPeer: serverIdentity.id, alpns: [Array("h3".utf8), Array("perf".utf8)])
        let attempt = try XCTUnwrap(nextAttempt(network))
        XCTAssertEqual(attempt.alpns, [Array("h3".utf8), Array("perf".utf8)])
        // Peeking left the held datagram intact: the handshake completes from it.
        XCTAssertNotNil(network.server.acceptIncoming(attempt.id, now: network.now))
        XCTAssertTrue(network.run(until: {
            network.client.connection(handle)?.isHandshakeConfirmed ?? false
        }, timeLimit: .seconds(2)))
    }

    // MARK: ClientHello ALPN reader

    /// A minimal TLS 1.3 ClientHello whose ALPN extension body is `alpnBody`.
    func clientHello(alpnBody: [UInt8]) -> [UInt8] {
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 0xAB, count: 32)
        body += [0x00]  // legacy_session_id
        body += [0x00, 0x02, 0x13, 0x01]  // cipher_suites
        body += [0x01, 0x00]  // legacy_compression_methods
        var extensions: [UInt8] = [0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]  // supported_versions
        extensions += [0x00, 0x10, UInt8(alpnBody.count >> 8), UInt8(alpnBody.count & 0xff)] + alpnBody
        body += [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xff)] + extensions
        return [0x01, 0, UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    }

    func alpnBody(_ names: [String]) -> [UInt8] {
        var list: [UInt8] = []
        for name in names { list += [UInt8(name.utf8.count)] + Array(name.utf8) }
        return [UInt8(list.count >> 8), UInt8(list.count & 0xff)] + list
    }

    func testReadsALPNs() {
        XCTAssertEqual(
            ClientHelloALPN.offeredProtocols(in: clientHello(alpnBody: alpnBody(["h3", "perf"]))),
            [Array("h3".utf8), Array("perf".utf8)])
    }

    func testMalformedClientHellosYieldNothing() {
        XCTAssertEqual(ClientHelloALPN.offeredProtocols(in: []), [])
        XCTAssertEqual(ClientHelloALPN.offeredProtocols(in: [0x02, 0, 0, 0]), [], "not a ClientHello")
        var badList = alpnBody(["h3"])
        badList[1] += 1
        XCTAssertEqual(ClientHelloALPN.offeredProtocols(in: clientHello(alpnBody: badList)), [])
        XCTAssertEqual(ClientHelloALPN.offeredProtocols(in: clientHello(alpnBody: [0, 1, 0])), [], "empty name")
        var hello = clientHello(alpnBody: alpnBody(["h3"]))
        hello[hello.count - 6] = 0xFF  // extension length beyond the message
        XCTAssertEqual(ClientHelloALPN.offeredProtocols(in: hello), [])
        var hugeLength = clientHello(alpnBody: alpnBody(["h3"]))
        hugeLength[1] = 0xFF  // message length beyond the bytes: parse what is there
        XCTAssertEqual(ClientHelloALPN.offeredProtocols(in: hugeLength), [Array("h3".utf8)])
    }

    func testEveryTruncationAndRandomInputIsTotal() {
        let hello = clientHello(alpnBody: alpnBody(["h3", "perf", "x"]))
        for length in 0..<hello.count {
            let result = ClientHelloALPN.offeredProtocols(in: Array(hello.prefix(length)))
            XCTAssertTrue(result.isEmpty, "truncated at \(length) inside the extension")
        }
        var random = RandomSource(seed: 42)
        for _ in 0..<2000 {
            var bytes = [UInt8](repeating: 0, count: Int(random.next() % 300))
            random.fill(&bytes)
            if !bytes.isEmpty { bytes[0] = 0x01 }
            _ = ClientHelloALPN.offeredProtocols(in: bytes)
            // Mutate one byte of a valid hello as well.
            var mutated = hello
            mutated[Int(random.next() % UInt64(hello.count))] = UInt8(truncatingIfNeeded: random.next())
            _ = ClientHelloALPN.offeredProtocols(in: mutated)
        }
    }
}

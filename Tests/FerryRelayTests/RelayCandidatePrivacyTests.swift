@testable import Ferry
import FerryCrypto
import FerryRelay
@testable import FerryTransport
import XCTest

/// A peer that the `afterHandshake` hooks reject never receives an address frame (docs/nat-traversal.md, Privacy):
/// every frame the server sends on the relayed connection is captured while its hook deliberates.
final class RelayCandidatePrivacyTests: XCTestCase {
    /// Holds the connection in `afterHandshake` until the test has attached its frame recorder, then decides.
    final class DeliberatingHook: EndpointHooks, Sendable {
        let decision: AfterHandshakeOutcome
        let reached: AsyncStream<Void>.Continuation
        let proceed: AsyncStream<Void>

        init(decision: AfterHandshakeOutcome, reached: AsyncStream<Void>.Continuation, proceed: AsyncStream<Void>) {
            self.decision = decision
            self.reached = reached
            self.proceed = proceed
        }

        func afterHandshake(_ connection: HookConnection) async throws -> AfterHandshakeOutcome {
            reached.yield()
            for await _ in proceed { break }
            return decision
        }
    }

    func recordFrames(
        decision: AfterHandshakeOutcome, file: StaticString = #filePath, line: UInt = #line
    ) async throws -> (frames: [SentFrame], refusal: ConnectionCloseReason?) {
        let relay = try await startRelay()
        let relayAddress = try XCTUnwrap(relay.address)
        let (reached, reachedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (proceed, proceedContinuation) = AsyncStream.makeStream(of: Void.self)
        let hook = DeliberatingHook(decision: decision, reached: reachedContinuation, proceed: proceed)
        let server = try await Endpoint.bind(
            host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"],
            configuration: EndpointConfiguration(relays: [relayAddress], pathMode: .auto), hooks: [hook])
        let client = try await relayedEndpoint(relays: [relayAddress], pathMode: .auto)
        _ = await server.waitUntilRelayed()
        let dial = Task { try await client.connect(to: EndpointAddress(id: server.id), alpn: "echo/1") }
        for await _ in reached { break }
        let frames = TestBox<[SentFrame]>([])
        await server.core.driver.compute { driver in
            for handle in driver.connections.keys {
                guard let connection = driver.transport.connection(handle),
                    RelayAddressBook.isRelayed(connection.remoteAddress)
                else { continue }
                connection.sentFramesObserver = { sent in frames.withLock { $0 += sent } }
            }
        }
        proceedContinuation.yield()
        // The client's handshake completes before the server's hook decides, so the dial succeeds either way.
        let connection = try await withTimeout(20) { try await dial.value }
        var refusal: ConnectionCloseReason?
        if case .accept = decision {
            try await waitFor("the server's first ADD_ADDRESS", file: file, line: line) {
                frames.withLock { $0.contains(where: Self.isAddressFrame) }
            }
        } else {
            // The server's CONNECTION_CLOSE is its last frame: once the client has it, nothing else is coming.
            refusal = await withTimeoutValue(10) { await connection.closed }
        }
        await client.close()
        await server.close()
        await relay.shutdown()
        return (frames.withLock { $0 }, refusal)
    }

    static func isAddressFrame(_ frame: SentFrame) -> Bool {
        switch frame {
        case .addAddress, .punchMeNow, .removeAddress: true
        default: false
        }
    }

    func testARejectedPeerNeverReceivesAnAddressFrame() async throws {
        let (frames, refusal) = try await recordFrames(decision: .reject(code: 0x403, reason: "not you"))
        guard case .applicationClosed(0x403, "not you", .peer)? = refusal else {
            return XCTFail("expected the hook's refusal, got \(String(describing: refusal))")
        }
        XCTAssertFalse(frames.contains(where: Self.isAddressFrame), "\(frames)")
    }

    /// The control: the same recorder sees ADD_ADDRESS once the hook accepts.
    func testAnAcceptedPeerReceivesTheCandidates() async throws {
        let (frames, refusal) = try await recordFrames(decision: .accept)
        XCTAssertNil(refusal)
        XCTAssertTrue(frames.contains(where: Self.isAddressFrame))
    }
}

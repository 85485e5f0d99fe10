import XCTest
import FerryTestSupport
@testable import FerryTransport

/// Stateless reset (RFC 9000 §10.3): HMAC-derived tokens, sending rules (smaller than the trigger, at least 21
/// bytes, rate limited) and detection by a peer whose partner lost its state.
final class StatelessResetSendingTests: XCTestCase {
    func testKeyedMACIsHMACSHA256() {
        // RFC 4231 test case 2 (key "Jefe"); the label byte is the message's first byte.
        let mac = KeyedMAC(key: Array("Jefe".utf8))
        let output = mac.authenticate(label: UInt8(ascii: "w"), message: Array("hat do ya want for nothing?".utf8))
        XCTAssertEqual(
            output.map { String(format: "%02x", $0) }.joined(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func testResetTokensDependOnKeyAndConnectionID() {
        let first = KeyedMAC(key: [UInt8](repeating: 1, count: 32))
        let second = KeyedMAC(key: [UInt8](repeating: 2, count: 32))
        let idA: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let idB: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 9]
        XCTAssertEqual(first.statelessResetToken(for: idA).count, 16)
        XCTAssertEqual(first.statelessResetToken(for: idA), first.statelessResetToken(for: idA))
        XCTAssertNotEqual(first.statelessResetToken(for: idA), first.statelessResetToken(for: idB))
        XCTAssertNotEqual(first.statelessResetToken(for: idA), second.statelessResetToken(for: idA))
    }

    /// A short-header datagram of `length` bytes for the 8-byte connection ID `id`.
    func shortHeaderDatagram(id: ConnectionID, length: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x41] + id.bytes
        bytes += [UInt8](repeating: 0x5A, count: max(0, length - bytes.count))
        return Array(bytes.prefix(length))
    }

    func testUnknownConnectionIDGetsSmallerReset() throws {
        let network = makeAddressValidationNetwork()
        let recorder = DatagramRecorder(network)
        let unknown = ConnectionID.repeating(0x77, count: 8)
        network.inject(shortHeaderDatagram(id: unknown, length: 100), to: .server)
        network.inject(shortHeaderDatagram(id: unknown, length: 22), to: .server)
        network.inject(shortHeaderDatagram(id: unknown, length: 21), to: .server)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        let resets = recorder.sent(by: .server)
        XCTAssertEqual(resets.map(\.count), [43, 21], "smaller than the trigger, at least 21 bytes, none for 21")
        let expected = network.server.context.resetToken(for: unknown)
        for reset in resets {
            XCTAssertEqual(reset[0] & 0xC0, 0x40, "looks like a short-header packet")
            XCTAssertEqual(StatelessResetToken(reset.suffix(16)), expected)
        }
        XCTAssertEqual(network.server.statelessResetsSent, 2)
    }

    func testRetiredConnectionIDGetsNoReset() throws {
        let network = makeAddressValidationNetwork()
        let recorder = DatagramRecorder(network)
        let retired = ConnectionID.repeating(0x66, count: 8)
        network.server.noteRetiredConnectionID(retired)
        network.inject(shortHeaderDatagram(id: retired, length: 100), to: .server)
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        XCTAssertTrue(recorder.sent(by: .server).isEmpty, "a late packet for a retired ID must not reset the peer")
    }

    func testResetsAreRateLimited() throws {
        let network = makeAddressValidationNetwork(statelessResetsPerSecond: 5)
        let recorder = DatagramRecorder(network)
        for index in 0..<20 {
            network.inject(shortHeaderDatagram(id: .repeating(UInt8(index), count: 8), length: 60), to: .server)
        }
        _ = network.run(until: { false }, timeLimit: .milliseconds(1))
        // Count answers to the 60-byte triggers only: the client answers resets with smaller resets, and so on
        // down to 21 bytes, which is how RFC 9000 §10.3 ends such loops.
        XCTAssertEqual(recorder.sent(by: .server).filter { $0.count == 43 }.count, 5)
        network.inject(
            shortHeaderDatagram(id: .repeating(0xEE, count: 8), length: 60), to: .server, delay: .milliseconds(1100))
        _ = network.run(until: { false }, timeLimit: .seconds(2))
        XCTAssertEqual(recorder.sent(by: .server).filter { $0.count == 43 }.count, 6, "the budget refills each second")
    }

    func testClientDetectsResetAfterServerLosesState() throws {
        let network = makeAddressValidationNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        // The server forgets everything, as after a restart with the same static key.
        network.server.connections.removeAll()
        network.server.routes.removeAll()
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        harness.send(patternBytes(count: 2000), on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(2)) {
            harness.closedEvents.contains { $0.0 == .client && $0.1 == .statelessReset }
        }, "closed: \(harness.closedEvents)")
        XCTAssertGreaterThan(network.server.statelessResetsSent, 0)
    }
}

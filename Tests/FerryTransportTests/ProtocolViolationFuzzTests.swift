import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Seeded random frames inside correctly protected 1-RTT packets: they pass packet protection, so they reach
/// every frame decoder and handler. Whatever they say, the receiver must never trap, and when it closes it must
/// name a defined transport error code it raised itself, never INTERNAL_ERROR (RFC 9000 §20.1).
final class ProtocolViolationFuzzTests: XCTestCase {
    /// Every frame type of RFC 9000 §19 and RFC 9221 except CONNECTION_CLOSE (which ends the connection by
    /// design), plus a few unknown ones.
    private static let frameTypes: [UInt8] = Array(0x00...0x1b) + [0x1e, 0x30, 0x31, 0x1f, 0x21, 0x3f]

    private static let definedCodes: Set<UInt64> = Set(0x00...0x10).subtracting([0x01])

    func testRandomFramesNeverTrapAndCloseWithDefinedCodes() throws {
        var random = SeededGenerator(seed: 0xF022)
        var closes: [UInt64: Int] = [:]
        var survived = 0
        for iteration in 0..<500 {
            let sender: SimulatedNetwork.Role = iteration % 3 == 0 ? .server : .client
            var payload: [UInt8] = []
            for _ in 0..<(1 + Int(random.next() % 3)) {
                payload.append(Self.frameTypes[Int(random.next() % UInt64(Self.frameTypes.count))])
                let length = Int(random.next() % 24)
                for _ in 0..<length {
                    // Mostly small values so varints and lengths stay plausible, sometimes anything.
                    let byte = UInt8(truncatingIfNeeded: random.next())
                    payload.append(random.next() % 4 == 0 ? byte : byte & 0x0f)
                }
            }
            let probe = try ViolationProbe(network: SimulatedNetwork(seed: UInt64(iteration) + 1))
            let reason = try probe.receiverCloseReason(afterSending: payload, from: sender)
            if reason == nil { survived += 1 }
            // A forged frame can also make the receiver's (correct) reaction look wrong to the sender, whose
            // state the forgery bypassed (a STREAM frame on a stream the sender never opened, say): then the
            // sender closes. Either way, whoever closes must do so locally with a defined code.
            probe.harness.run(timeLimit: .milliseconds(300)) { false }
            for (role, closeReason) in probe.harness.closedEvents {
                switch closeReason {
                case .transportError(let error, .local):
                    XCTAssertTrue(Self.definedCodes.contains(error.code.rawValue),
                                  "iteration \(iteration), \(role): \(error) for \(payload)")
                    closes[error.code.rawValue, default: 0] += 1
                case .transportError(_, .peer):
                    XCTAssertTrue(probe.harness.closedEvents.contains {
                        if case .transportError(_, .local) = $0.1 { return $0.0 != role }
                        return false
                    }, "iteration \(iteration): \(role) closed by a peer that raised nothing")
                case .statelessReset where role == sender, .idleTimeout where role == sender:
                    // The forgery can retire the connection ID the sender knows (NEW_CONNECTION_ID with a high
                    // Retire Prior To), so the receiver's CONNECTION_CLOSE goes to an ID the sender never
                    // issued; the sender then learns of the end from a stateless reset or its idle timer.
                    break
                default:
                    XCTFail("iteration \(iteration), \(role): unexpected close \(closeReason) for \(payload)")
                }
            }
        }
        print("fuzz: \(survived) of 500 forged packets left the connection open; closes by code \(closes.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(closes.values.reduce(0, +), 100, "the fuzzer reached the error paths: \(closes)")
        XCTAssertGreaterThan(survived, 5, "and valid-looking frames were accepted")
    }
}

/// SplitMix64 for reproducible fuzz input.
struct SeededGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

import FerryTransport
import XCTest

/// RFC 9002 §6 and Appendix A with scripted packet sequences on a virtual clock.
final class RecoveryLossDetectionTests: XCTestCase {
    private var controller = NewReno()

    private func makeLossDetection(side: Side = .server, confirmed: Bool = true) -> LossDetection {
        controller = NewReno()
        var recovery = LossDetection(side: side, congestionController: controller)
        recovery.isHandshakeConfirmed = confirmed
        return recovery
    }

    private func send(
        _ recovery: inout LossDetection, _ packetNumbers: ClosedRange<UInt64>, space: PacketNumberSpace = .application,
        at times: (UInt64) -> Instant
    ) {
        for packetNumber in packetNumbers {
            let time = times(packetNumber)
            recovery.onPacketSent(sentPacket(packetNumber, at: time), space: space, now: time)
        }
    }

    func testAckRemovesPacketsAndSamplesRTT() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...2) { _ in ms(0) }
        XCTAssertEqual(recovery.bytesInFlight, 3600)
        let result = try recovery.onAckReceived(
            ackFrame(0...2, ackDelay: 0), space: .application, maxAckDelay: .milliseconds(25), now: ms(80))
        XCTAssertEqual(result.newlyAcknowledged.map(\.packetNumber), [0, 1, 2])
        XCTAssertEqual(result.newlyAcknowledged.first?.frames, [.ping], "frames come back to the owner")
        XCTAssertTrue(result.lost.isEmpty)
        XCTAssertTrue(result.isRTTSampled)
        XCTAssertEqual(millis(recovery.rtt.smoothedRTT), 80)
        XCTAssertEqual(recovery.bytesInFlight, 0)
        XCTAssertEqual(recovery.outstandingPacketCount(in: .application), 0)
        XCTAssertEqual(recovery.largestAcknowledged(in: .application), 2)
        XCTAssertNil(recovery.lossDetectionTimeout(), "nothing in flight on a server: no timer")

        let duplicate = try recovery.onAckReceived(
            ackFrame(0...2), space: .application, maxAckDelay: .milliseconds(25), now: ms(90))
        XCTAssertTrue(duplicate.newlyAcknowledged.isEmpty)
        XCTAssertFalse(duplicate.isRTTSampled)
    }

    func testNoRTTSampleWhenLargestWasAlreadyAcknowledged() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...3) { _ in ms(0) }
        _ = try recovery.onAckReceived(ackFrame(3...3), space: .application, maxAckDelay: .zero, now: ms(50))
        let result = try recovery.onAckReceived(
            ackFrame(3...3, 1...1), space: .application, maxAckDelay: .zero, now: ms(200))
        XCTAssertEqual(result.newlyAcknowledged.map(\.packetNumber), [1])
        XCTAssertFalse(result.isRTTSampled)
        XCTAssertEqual(millis(recovery.rtt.latestRTT), 50)
    }

    func testPacketThresholdThenTimeThresholdLoss() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...4) { ms(Double($0)) }
        let result = try recovery.onAckReceived(
            ackFrame(4...4), space: .application, maxAckDelay: .milliseconds(25), now: ms(50))
        // 4 ≥ n + 3 for n ∈ {0, 1}: lost by packet threshold (RFC 9002 §6.1.1).
        XCTAssertEqual(result.lost.map(\.packetNumber), [0, 1])
        XCTAssertEqual(result.newlyAcknowledged.map(\.packetNumber), [4])
        XCTAssertEqual(controller.state, .recovery)
        // latest_rtt = 46 ms → loss delay 51.75 ms; packet 2 (sent at 2 ms) is lost at 53.75 ms.
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(53.75))
        guard case .none = recovery.onTimeout(now: ms(53)) else { return XCTFail("timer fired early") }
        guard case .packetsLost(let space, let lost, let persistent) = recovery.onTimeout(now: ms(53.75)) else {
            return XCTFail("expected time-threshold loss")
        }
        XCTAssertEqual(space, .application)
        XCTAssertEqual(lost.map(\.packetNumber), [2])
        XCTAssertFalse(persistent)
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(54.75), "packet 3 is next")
        guard case .packetsLost(_, let lost2, _) = recovery.onTimeout(now: ms(60)) else {
            return XCTFail("expected time-threshold loss")
        }
        XCTAssertEqual(lost2.map(\.packetNumber), [3])
        XCTAssertEqual(recovery.bytesInFlight, 0)
        XCTAssertEqual(controller.congestionWindow, 6000, "one reduction for the whole episode")
    }

    func testProbeTimeoutFiresAndBacksOff() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...0) { _ in ms(0) }
        // PTO = 333 + 4 × 166.5 + max_ack_delay 25 = 1024 ms (RFC 9002 §6.2.1).
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(1024))
        guard case .none = recovery.onTimeout(now: ms(1023)) else { return XCTFail("fired early") }
        guard case .sendProbes(let space, let count) = recovery.onTimeout(now: ms(1024)) else {
            return XCTFail("expected a probe")
        }
        XCTAssertEqual(space, .application)
        XCTAssertEqual(count, 2)
        XCTAssertEqual(recovery.ptoCount, 1)
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(2048))
        guard case .sendProbes = recovery.onTimeout(now: ms(2048)) else { return XCTFail("expected a probe") }
        XCTAssertEqual(recovery.ptoCount, 2)
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(4096))

        // A probe is sent and acknowledged: pto_count resets and packet 0 is lost by time threshold.
        recovery.onPacketSent(sentPacket(1, at: ms(2048)), space: .application, now: ms(2048))
        let result = try recovery.onAckReceived(
            ackFrame(1...1), space: .application, maxAckDelay: .milliseconds(25), now: ms(2148))
        XCTAssertEqual(recovery.ptoCount, 0)
        XCTAssertEqual(result.lost.map(\.packetNumber), [0])
        XCTAssertNil(recovery.lossDetectionTimeout())
    }

    func testHandshakeSpacePTOExcludesMaxAckDelay() {
        var recovery = makeLossDetection(confirmed: false)
        send(&recovery, 0...0, space: .handshake) { _ in ms(10) }
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(1009))
    }

    func testApplicationSpaceIsNotProbedBeforeHandshakeConfirmation() {
        var recovery = makeLossDetection(confirmed: false)
        send(&recovery, 0...0, space: .application) { _ in ms(0) }
        XCTAssertNil(recovery.lossDetectionTimeout())
        send(&recovery, 0...0, space: .handshake) { _ in ms(100) }
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(1099))
        recovery.isHandshakeConfirmed = true
        recovery.rearmTimer(now: ms(100))
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(1024), "application packet now armed with max_ack_delay")
    }

    func testClientAntiDeadlockProbe() {
        var recovery = makeLossDetection(side: .client, confirmed: false)
        recovery.rearmTimer(now: ms(0))
        // Nothing in flight, but the server has not validated our address (RFC 9002 §6.2.2.1).
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(999))
        guard case .sendProbes(let space, let count) = recovery.onTimeout(now: ms(999)) else {
            return XCTFail("expected an anti-deadlock probe")
        }
        XCTAssertEqual(space, .initial)
        XCTAssertEqual(count, 1)
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(999 + 1998), "backed off from now")
        recovery.hasHandshakeKeys = true
        guard case .sendProbes(let space2, _) = recovery.onTimeout(now: ms(2997)) else {
            return XCTFail("expected an anti-deadlock probe")
        }
        XCTAssertEqual(space2, .handshake)
    }

    func testClientStopsAntiDeadlockOnceHandshakeIsAcknowledged() throws {
        var recovery = makeLossDetection(side: .client, confirmed: false)
        send(&recovery, 0...0, space: .handshake) { _ in ms(0) }
        _ = try recovery.onAckReceived(ackFrame(0...0), space: .handshake, maxAckDelay: .zero, now: ms(30))
        XCTAssertTrue(recovery.hasPeerCompletedAddressValidation)
        XCTAssertNil(recovery.lossDetectionTimeout())
    }

    func testAmplificationLimitedServerArmsNoPTO() {
        var recovery = makeLossDetection(confirmed: false)
        send(&recovery, 0...0, space: .initial) { _ in ms(0) }
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(999))
        recovery.isAmplificationLimited = true
        recovery.rearmTimer(now: ms(1))
        XCTAssertNil(recovery.lossDetectionTimeout())
    }

    func testAckOfUnsentPacketIsProtocolViolation() {
        var recovery = makeLossDetection()
        send(&recovery, 0...2) { _ in ms(0) }
        XCTAssertThrowsError(
            try recovery.onAckReceived(ackFrame(5...5), space: .application, maxAckDelay: .zero, now: ms(10))
        ) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation)
            XCTAssertEqual((error as? TransportError)?.frameType, 0x02)
        }
        XCTAssertThrowsError(
            try recovery.onAckReceived(ackFrame(0...0), space: .handshake, maxAckDelay: .zero, now: ms(10))
        ) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation)
        }
        XCTAssertEqual(recovery.outstandingPacketCount(in: .application), 3, "state untouched")
    }

    func testAckOfSkippedPacketNumberIsProtocolViolation() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...2) { _ in ms(0) }
        recovery.onPacketNumberSkipped(3, space: .application)
        send(&recovery, 4...5) { _ in ms(1) }
        let result = try recovery.onAckReceived(
            ackFrame(4...5, 0...2), space: .application, maxAckDelay: .zero, now: ms(30))
        XCTAssertEqual(result.newlyAcknowledged.map(\.packetNumber), [0, 1, 2, 4, 5])
        XCTAssertThrowsError(
            try recovery.onAckReceived(ackFrame(0...5), space: .application, maxAckDelay: .zero, now: ms(31))
        ) { error in
            XCTAssertEqual((error as? TransportError)?.code, .protocolViolation)
        }
    }

    func testDiscardRemovesInFlightBytesAndTimer() throws {
        var recovery = makeLossDetection(confirmed: false)
        send(&recovery, 0...1, space: .initial) { _ in ms(0) }
        XCTAssertEqual(controller.bytesInFlight, 2400)
        XCTAssertNotNil(recovery.lossDetectionTimeout())
        recovery.discard(space: .initial, now: ms(5))
        XCTAssertEqual(controller.bytesInFlight, 0)
        XCTAssertEqual(recovery.outstandingPacketCount(in: .initial), 0)
        XCTAssertNil(recovery.lossDetectionTimeout())
        XCTAssertEqual(controller.congestionWindow, 12_000, "discarding is not a congestion signal")
        let late = try recovery.onAckReceived(ackFrame(0...1), space: .initial, maxAckDelay: .zero, now: ms(6))
        XCTAssertTrue(late.newlyAcknowledged.isEmpty, "ACKs in a discarded space are ignored")
        recovery.onPacketSent(sentPacket(2, at: ms(7)), space: .initial, now: ms(7))
        XCTAssertEqual(controller.bytesInFlight, 0, "sends in a discarded space are ignored")
    }

    func testRetryRemovesInitialPacketsWithoutCongestionSignal() throws {
        var recovery = makeLossDetection(side: .client, confirmed: false)
        send(&recovery, 0...1, space: .initial) { _ in ms(0) }
        let removed = recovery.removeOutstandingPackets(in: .initial, now: ms(40))
        XCTAssertEqual(removed.map(\.packetNumber), [0, 1])
        XCTAssertEqual(removed.first?.frames, [.ping])
        XCTAssertEqual(controller.bytesInFlight, 0)
        XCTAssertEqual(controller.congestionWindow, 12_000)
        XCTAssertEqual(recovery.lossDetectionTimeout(), ms(1039), "client anti-deadlock timer from now")
        // Packet numbers continue after a Retry; the space keeps working.
        send(&recovery, 2...2, space: .initial) { _ in ms(50) }
        let result = try recovery.onAckReceived(ackFrame(2...2), space: .initial, maxAckDelay: .zero, now: ms(90))
        XCTAssertEqual(result.newlyAcknowledged.map(\.packetNumber), [2])
        XCTAssertThrowsError(
            try recovery.onAckReceived(ackFrame(3...3), space: .initial, maxAckDelay: .zero, now: ms(91)))
    }

    /// Packets 1 and 3 lost 1.1 s apart with nothing acknowledged between them, more than the persistent
    /// congestion duration (100 + 4 × 50 + 25) × 3 = 975 ms (RFC 9002 §7.6).
    private func runPersistentCongestionScenario(acknowledgingMiddlePacket: Bool) throws -> AckResult {
        var recovery = makeLossDetection()
        send(&recovery, 0...0) { _ in ms(0) }
        _ = try recovery.onAckReceived(
            ackFrame(0...0), space: .application, maxAckDelay: .milliseconds(25), now: ms(100))
        XCTAssertEqual(recovery.persistentCongestionDuration, .milliseconds(975))
        let times: [UInt64: Double] = [1: 200, 2: 600, 3: 1300, 4: 1301, 5: 1302]
        send(&recovery, 1...5) { ms(times[$0] ?? 0) }
        recovery.onPacketSent(sentPacket(6, at: ms(1303), ackEliciting: false), space: .application, now: ms(1303))
        let ack = acknowledgingMiddlePacket ? ackFrame(6...6, 2...2) : ackFrame(6...6)
        return try recovery.onAckReceived(ack, space: .application, maxAckDelay: .milliseconds(25), now: ms(1310))
    }

    func testPersistentCongestionCollapsesWindow() throws {
        let result = try runPersistentCongestionScenario(acknowledgingMiddlePacket: false)
        XCTAssertEqual(result.lost.map(\.packetNumber), [1, 2, 3])
        XCTAssertTrue(result.isPersistentCongestion)
        XCTAssertEqual(controller.congestionWindow, controller.minimumWindow)
        XCTAssertEqual(controller.congestionWindow, 2400)
    }

    func testAcknowledgementInsidePeriodPreventsPersistentCongestion() throws {
        let result = try runPersistentCongestionScenario(acknowledgingMiddlePacket: true)
        XCTAssertEqual(result.lost.map(\.packetNumber), [1, 3])
        XCTAssertFalse(result.isPersistentCongestion)
        XCTAssertEqual(controller.slowStartThreshold, 6000)
        XCTAssertGreaterThanOrEqual(controller.congestionWindow, 6000)
    }

    func testShortLossPeriodIsNotPersistentCongestion() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...0) { _ in ms(0) }
        _ = try recovery.onAckReceived(
            ackFrame(0...0), space: .application, maxAckDelay: .milliseconds(25), now: ms(100))
        send(&recovery, 1...6) { ms(100 + Double($0)) }
        let result = try recovery.onAckReceived(
            ackFrame(6...6), space: .application, maxAckDelay: .milliseconds(25), now: ms(200))
        XCTAssertEqual(result.lost.map(\.packetNumber), [1, 2, 3])
        XCTAssertFalse(result.isPersistentCongestion)
        XCTAssertEqual(controller.slowStartThreshold, 6000)
    }

    func testECNCongestionEventReducesWindowOnce() throws {
        var recovery = makeLossDetection()
        send(&recovery, 0...1) { ms(Double($0)) }
        let ecn = ECNCounts(ect0: 1, ect1: 0, ce: 1)
        _ = try recovery.onAckReceived(
            ackFrame(0...0, ecn: ecn), space: .application, maxAckDelay: .zero, now: ms(50))
        XCTAssertEqual(controller.slowStartThreshold, 6000)
        _ = try recovery.onAckReceived(
            ackFrame(0...1, ecn: ecn), space: .application, maxAckDelay: .zero, now: ms(51))
        XCTAssertEqual(controller.slowStartThreshold, 6000, "no new CE marks: no new reduction")
    }

    func testManyPacketsAreTrackedAndReleased() throws {
        var recovery = makeLossDetection()
        for packetNumber in UInt64(0)..<10_000 {
            recovery.onPacketSent(
                sentPacket(packetNumber, at: ms(Double(packetNumber) / 10), size: 1), space: .application,
                now: ms(Double(packetNumber) / 10))
            if packetNumber % 10 == 9 {
                // Acknowledge every packet but skip none; ranges arrive in several blocks.
                let result = try recovery.onAckReceived(
                    ackFrame(packetNumber...packetNumber, (packetNumber - 9)...(packetNumber - 2)),
                    space: .application, maxAckDelay: .zero, now: ms(Double(packetNumber) / 10 + 5))
                XCTAssertTrue(result.lost.isEmpty)
                _ = try recovery.onAckReceived(
                    ackFrame(packetNumber...packetNumber, (packetNumber - 9)...(packetNumber - 1)),
                    space: .application, maxAckDelay: .zero, now: ms(Double(packetNumber) / 10 + 5))
            }
        }
        XCTAssertEqual(recovery.outstandingPacketCount(in: .application), 0)
        XCTAssertEqual(recovery.bytesInFlight, 0)
        XCTAssertFalse(recovery.hasAckElicitingInFlight)
    }
}

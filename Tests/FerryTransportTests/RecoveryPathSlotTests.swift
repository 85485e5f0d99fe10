import XCTest

@testable import FerryTransport

/// Loss detection charges each packet's fate to the path it was sent on (RFC 9000 §9.4, RFC 9002 §A): packet
/// numbers are shared, RTT estimates and congestion controllers are not.
final class RecoveryPathSlotTests: XCTestCase {
    private func send(
        _ recovery: inout LossDetection, _ packetNumbers: ClosedRange<UInt64>, at time: Instant, slot: UInt8? = nil
    ) {
        for packetNumber in packetNumbers {
            recovery.onPacketSent(sentPacket(packetNumber, at: time), space: .application, now: time, pathSlot: slot)
        }
    }

    func testAcknowledgementsLossesAndRTTGoToTheSendingPath() throws {
        let old = NewReno()
        let new = NewReno()
        let initialWindow = old.congestionWindow
        var recovery = LossDetection(side: .server, congestionController: old)
        recovery.isHandshakeConfirmed = true
        send(&recovery, 0...4, at: ms(0))
        let slot = recovery.addPath(rtt: RTTEstimator(), congestionController: new)
        recovery.selectPath(slot)
        send(&recovery, 5...9, at: ms(10))
        XCTAssertEqual(old.bytesInFlight, 6000)
        XCTAssertEqual(new.bytesInFlight, 6000)
        XCTAssertEqual(recovery.pathRecovery(0)?.outstandingPackets, 5)
        XCTAssertEqual(recovery.pathRecovery(slot)?.outstandingPackets, 5)

        // The new path delivers; the old one lost everything. The ACK's packet threshold declares 0...4 lost.
        let result = try recovery.onAckReceived(
            ackFrame(5...9), space: .application, maxAckDelay: .milliseconds(25), now: ms(60))
        XCTAssertEqual(result.lost.map(\.packetNumber), [0, 1, 2, 3, 4])
        XCTAssertEqual(result.lost.map(\.pathSlot), [0, 0, 0, 0, 0])
        XCTAssertEqual(result.newlyAcknowledged.map(\.pathSlot), Array(repeating: slot, count: 5))
        XCTAssertEqual(recovery.pathRecovery(0)?.packetsLost, 5)
        XCTAssertEqual(recovery.pathRecovery(slot)?.packetsLost, 0)
        XCTAssertEqual(recovery.pathRecovery(0)?.outstandingPackets, 0)
        XCTAssertEqual(recovery.pathRecovery(slot)?.outstandingPackets, 0)
        XCTAssertEqual(old.bytesInFlight, 0)
        XCTAssertEqual(new.bytesInFlight, 0)
        XCTAssertLessThan(old.congestionWindow, initialWindow, "the old path's controller took the loss")
        XCTAssertEqual(new.slowStartThreshold, .max, "the new path's did not")
        XCTAssertGreaterThan(new.congestionWindow, initialWindow, "and grew with its acknowledgements")
        XCTAssertEqual(millis(recovery.rtt.smoothedRTT), 50, "the new path's RTT from its own packet")
        XCTAssertEqual(recovery.pathRecovery(0)?.rtt.smoothedRTT, RTTEstimator().smoothedRTT, "no sample for old")
    }

    func testPacketsOfAReleasedPathBecomeOrphans() throws {
        let main = NewReno()
        let probe = NewReno()
        var recovery = LossDetection(side: .server, congestionController: main)
        recovery.isHandshakeConfirmed = true
        let slot = recovery.addPath(rtt: RTTEstimator(), congestionController: probe)
        send(&recovery, 0...0, at: ms(0), slot: slot)
        send(&recovery, 1...1, at: ms(0))
        XCTAssertEqual(probe.bytesInFlight, 1200)
        XCTAssertEqual(main.bytesInFlight, 1200)
        recovery.releasePath(slot)
        XCTAssertNil(recovery.pathRecovery(slot))
        XCTAssertEqual(probe.bytesInFlight, 0, "the released path's bytes left its controller")

        let result = try recovery.onAckReceived(
            ackFrame(0...0), space: .application, maxAckDelay: .milliseconds(25), now: ms(40))
        XCTAssertEqual(result.newlyAcknowledged.map(\.packetNumber), [0], "its frames still come back")
        XCTAssertEqual(result.newlyAcknowledged.first?.pathSlot, PathRecovery.orphanSlot)
        XCTAssertFalse(result.isRTTSampled, "an orphan measures no live path")
        XCTAssertEqual(main.bytesInFlight, 1200)
        XCTAssertEqual(recovery.pathRecovery(0)?.outstandingPackets, 1)
        XCTAssertEqual(recovery.addPath(rtt: RTTEstimator(), congestionController: NewReno()), slot, "slot reused")
        recovery.releasePath(recovery.selectedPathSlot)
        XCTAssertNotNil(recovery.pathRecovery(0), "the selected path is never released")
    }

    func testDiscardedSpaceLeavesEachPathsController() throws {
        let first = NewReno()
        let second = NewReno()
        var recovery = LossDetection(side: .server, congestionController: first)
        let slot = recovery.addPath(rtt: RTTEstimator(), congestionController: second)
        recovery.onPacketSent(sentPacket(0, at: ms(0)), space: .handshake, now: ms(0))
        recovery.onPacketSent(sentPacket(1, at: ms(0)), space: .handshake, now: ms(0), pathSlot: slot)
        recovery.discard(space: .handshake, now: ms(1))
        XCTAssertEqual(first.bytesInFlight, 0)
        XCTAssertEqual(second.bytesInFlight, 0)
        XCTAssertEqual(recovery.pathRecovery(slot)?.outstandingPackets, 0)
        XCTAssertEqual(recovery.pathRecovery(0)?.packetsLost, 0, "discarded is not lost")
    }
}

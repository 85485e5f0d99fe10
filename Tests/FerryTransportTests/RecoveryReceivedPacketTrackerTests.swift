import FerryTransport
import XCTest

/// RFC 9000 §13.2: recording received packets, ACK scheduling and ACK frame generation.
final class RecoveryReceivedPacketTrackerTests: XCTestCase {
    private func tracker(
        _ space: PacketNumberSpace = .application, receiving packetNumbers: [UInt64], maxAckRanges: Int = 32,
        maxStoredRanges: Int = 256
    ) -> ReceivedPacketTracker {
        var tracker = ReceivedPacketTracker(space: space, maxAckRanges: maxAckRanges, maxStoredRanges: maxStoredRanges)
        for packetNumber in packetNumbers {
            tracker.onPacketReceived(packetNumber: packetNumber, isAckEliciting: true, now: .zero)
        }
        return tracker
    }

    func testAckFrameDescribesGapsNewestFirst() throws {
        var tracker = tracker(receiving: [0, 1, 2, 5, 6, 9])
        let ack = try XCTUnwrap(tracker.makeAckFrame(now: .zero))
        XCTAssertEqual(ack.largestAcknowledged, 9)
        XCTAssertEqual(ack.ranges, [9...9, 5...6, 0...2])
        XCTAssertNil(ack.ecnCounts)
        XCTAssertEqual(tracker.rangeCount, 3)
    }

    func testReorderedPacketsMergeRanges() throws {
        var tracker = tracker(receiving: [4, 0, 2, 1, 3, 7, 6])
        XCTAssertEqual(try XCTUnwrap(tracker.makeAckFrame(now: .zero)).ranges, [6...7, 0...4])
    }

    func testDuplicateDetection() {
        let tracker = tracker(receiving: [0, 1, 5])
        XCTAssertTrue(tracker.isDuplicate(0))
        XCTAssertTrue(tracker.isDuplicate(5))
        XCTAssertFalse(tracker.isDuplicate(3))
        XCTAssertFalse(tracker.isDuplicate(6))
        XCTAssertTrue(tracker.contains(1))
        XCTAssertFalse(tracker.contains(2))
    }

    func testEmptyTrackerMakesNoAck() {
        var tracker = ReceivedPacketTracker(space: .initial)
        XCTAssertNil(tracker.makeAckFrame(now: .zero))
    }

    func testRetainedAckFrameIsNotOverwrittenByTheNext() throws {
        var tracker = tracker(receiving: [0, 1, 3])
        let first = try XCTUnwrap(tracker.makeAckFrame(now: .zero))
        tracker.onPacketReceived(packetNumber: 5, isAckEliciting: true, now: .zero)
        let second = try XCTUnwrap(tracker.makeAckFrame(now: .zero))
        XCTAssertEqual(first.ranges, [3...3, 0...1])
        XCTAssertEqual(second.ranges, [5...5, 3...3, 0...1])
    }

    func testAckFrameKeepsOnlyNewestRanges() throws {
        var tracker = tracker(receiving: [0, 2, 4, 6, 8, 10], maxAckRanges: 3)
        let ack = try XCTUnwrap(tracker.makeAckFrame(now: .zero))
        XCTAssertEqual(ack.ranges, [10...10, 8...8, 6...6])
        XCTAssertEqual(tracker.rangeCount, 6, "older ranges are still remembered")
    }

    func testStoredRangesAreBoundedAndForgottenOnesCountAsDuplicates() throws {
        var tracker = tracker(receiving: [0, 2, 4, 6, 8], maxStoredRanges: 3)
        XCTAssertEqual(tracker.rangeCount, 3)
        XCTAssertEqual(try XCTUnwrap(tracker.makeAckFrame(now: .zero)).ranges, [8...8, 6...6, 4...4])
        XCTAssertTrue(tracker.isDuplicate(1), "below the forgotten floor")
        XCTAssertFalse(tracker.isDuplicate(5))
    }

    func testAckDelayIsScaledByExponent() throws {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, now: ms(100))
        let ack = try XCTUnwrap(tracker.makeAckFrame(now: ms(110), ackDelayExponent: 3))
        XCTAssertEqual(ack.ackDelay, 10_000 >> 3)
        XCTAssertEqual(try XCTUnwrap(tracker.makeAckFrame(now: ms(110), ackDelayExponent: 0)).ackDelay, 10_000)
    }

    func testHandshakeSpacesReportZeroAckDelay() throws {
        var tracker = ReceivedPacketTracker(space: .handshake)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, now: ms(100))
        XCTAssertEqual(try XCTUnwrap(tracker.makeAckFrame(now: ms(150))).ackDelay, 0)
    }

    func testECNCountsAreEchoed() throws {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: false, ecn: 2, now: .zero)
        tracker.onPacketReceived(packetNumber: 1, isAckEliciting: false, ecn: 2, now: .zero)
        tracker.onPacketReceived(packetNumber: 2, isAckEliciting: false, ecn: 1, now: .zero)
        tracker.onPacketReceived(packetNumber: 3, isAckEliciting: false, ecn: 3, now: .zero)
        let ack = try XCTUnwrap(tracker.makeAckFrame(now: .zero))
        XCTAssertEqual(ack.ecnCounts, ECNCounts(ect0: 2, ect1: 1, ce: 1))
    }

    func testSingleAckElicitingPacketIsAcknowledgedWithinMaxAckDelay() {
        var tracker = ReceivedPacketTracker(space: .application, maxAckDelay: .milliseconds(25))
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, now: ms(10))
        XCTAssertEqual(tracker.ackDeadline, ms(35))
        XCTAssertFalse(tracker.isAckDue(now: ms(34)))
        XCTAssertTrue(tracker.isAckDue(now: ms(35)))
    }

    func testEverySecondAckElicitingPacketIsAcknowledgedImmediately() {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, now: ms(10))
        tracker.onPacketReceived(packetNumber: 1, isAckEliciting: true, now: ms(12))
        XCTAssertEqual(tracker.ackElicitingSinceLastAck, 2)
        XCTAssertTrue(tracker.isAckDue(now: ms(12)))
        tracker.onAckSent()
        XCTAssertNil(tracker.ackDeadline)
        XCTAssertEqual(tracker.ackElicitingSinceLastAck, 0)
        tracker.onPacketReceived(packetNumber: 2, isAckEliciting: true, now: ms(20))
        XCTAssertEqual(tracker.ackDeadline, ms(45), "the count restarts after an ACK is sent")
    }

    func testNonAckElicitingPacketsDoNotScheduleAnAck() {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: false, now: ms(10))
        tracker.onPacketReceived(packetNumber: 1, isAckEliciting: false, now: ms(11))
        XCTAssertNil(tracker.ackDeadline)
        XCTAssertTrue(tracker.hasUnacknowledgedPackets)
        XCTAssertNotNil(tracker.makeAckFrame(now: ms(11)), "they still ride along with other frames")
    }

    func testInitialAndHandshakePacketsAreAcknowledgedImmediately() {
        for space in [PacketNumberSpace.initial, .handshake] {
            var tracker = ReceivedPacketTracker(space: space)
            tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, now: ms(5))
            XCTAssertEqual(tracker.ackDeadline, ms(5), "\(space)")
        }
    }

    func testReorderedPacketTriggersImmediateAck() {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 5, isAckEliciting: true, now: ms(1))
        tracker.onAckSent()
        tracker.onPacketReceived(packetNumber: 3, isAckEliciting: true, now: ms(2))
        XCTAssertEqual(tracker.ackDeadline, ms(2))
    }

    func testGapTriggersImmediateAck() {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, now: ms(1))
        tracker.onAckSent()
        tracker.onPacketReceived(packetNumber: 1, isAckEliciting: true, now: ms(2))
        XCTAssertEqual(tracker.ackDeadline, ms(27), "in order: delayed")
        tracker.onAckSent()
        tracker.onPacketReceived(packetNumber: 3, isAckEliciting: true, now: ms(3))
        XCTAssertEqual(tracker.ackDeadline, ms(3), "packet 2 is missing: immediate")
    }

    func testCEMarkedPacketTriggersImmediateAck() {
        var tracker = ReceivedPacketTracker(space: .application)
        tracker.onPacketReceived(packetNumber: 0, isAckEliciting: true, ecn: 3, now: ms(1))
        XCTAssertEqual(tracker.ackDeadline, ms(1))
    }

    func testAckOfAckPrunesAcknowledgedRanges() throws {
        var tracker = tracker(receiving: Array(0...10) + [12, 13])
        tracker.onAckOfAck(largestAcknowledged: 5)
        XCTAssertEqual(try XCTUnwrap(tracker.makeAckFrame(now: .zero)).ranges, [12...13, 6...10])
        XCTAssertTrue(tracker.isDuplicate(3), "pruned packets are not processed again")
        tracker.onAckOfAck(largestAcknowledged: 11)
        XCTAssertEqual(try XCTUnwrap(tracker.makeAckFrame(now: .zero)).ranges, [12...13])
        XCTAssertTrue(tracker.isDuplicate(11))
        tracker.onAckOfAck(largestAcknowledged: 2)
        XCTAssertEqual(tracker.floor, 12, "an older ack-of-ack does not lower the floor")
    }
}

import FerryTransport
import XCTest

/// RFC 9002 §7 and Appendix B.
final class RecoveryNewRenoTests: XCTestCase {
    func testInitialAndMinimumWindows() {
        let reno = NewReno()
        XCTAssertEqual(reno.congestionWindow, 12_000)
        XCTAssertEqual(reno.minimumWindow, 2400)
        XCTAssertEqual(reno.slowStartThreshold, .max)
        XCTAssertEqual(NewReno(maxDatagramSize: 1472).congestionWindow, 14_720)
        reno.maxDatagramSize = 1452
        XCTAssertEqual(reno.minimumWindow, 2904)
    }

    func testCanSendRespectsWindow() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        _ = driver.send(9)
        XCTAssertTrue(reno.canSend(bytes: 1200))
        XCTAssertFalse(reno.canSend(bytes: 1201))
        XCTAssertEqual(reno.availableWindow, 1200)
        _ = driver.send(1)
        XCTAssertFalse(reno.canSend(bytes: 1))
    }

    func testSlowStartDoublesPerRoundTrip() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        driver.runRound()
        XCTAssertEqual(reno.congestionWindow, 24_000)
        driver.runRound()
        XCTAssertEqual(reno.congestionWindow, 48_000)
        XCTAssertEqual(reno.state, .slowStart)
        XCTAssertEqual(reno.bytesInFlight, 0)
    }

    func testApplicationLimitedSenderDoesNotGrow() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        for _ in 0..<5 {
            let packets = driver.send(2)
            driver.acknowledgeAfterRoundTrip(packets)
        }
        XCTAssertEqual(reno.congestionWindow, 12_000, "in flight never reached half the window (RFC 9002 §7.8)")
    }

    func testRecoveryPeriodReducesOnce() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        driver.runRound()  // 24 000
        let beforeLoss = driver.fillWindow()  // 20 packets
        let lossTime = driver.now + .milliseconds(100)
        reno.onPacketsLost([beforeLoss[0]], persistentCongestion: false, now: lossTime)
        XCTAssertEqual(reno.congestionWindow, 12_000)
        XCTAssertEqual(reno.slowStartThreshold, 12_000)
        XCTAssertEqual(reno.state, .recovery)
        XCTAssertEqual(reno.recoveryStartTime, lossTime)

        // Another loss of a packet sent before recovery started: no second reduction (RFC 9002 §7.3.2).
        reno.onPacketsLost([beforeLoss[1]], persistentCongestion: false, now: lossTime + .milliseconds(5))
        XCTAssertEqual(reno.congestionWindow, 12_000)

        // Acknowledgements of pre-recovery packets do not grow the window.
        driver.now = lossTime + .milliseconds(10)
        reno.onPacketsAcknowledged(Array(beforeLoss[2..<10]), rtt: driver.rtt, now: driver.now)
        XCTAssertEqual(reno.congestionWindow, 12_000)
        XCTAssertEqual(reno.state, .recovery)

        // A packet sent during recovery is acknowledged: recovery ends, congestion avoidance begins.
        let afterLoss = driver.send(1)
        driver.acknowledgeAfterRoundTrip(afterLoss)
        XCTAssertEqual(reno.state, .congestionAvoidance)

        // A late loss report for a pre-recovery packet still does not reduce the window.
        reno.onPacketsLost([beforeLoss[10]], persistentCongestion: false, now: driver.now)
        XCTAssertEqual(reno.slowStartThreshold, 12_000)
        XCTAssertEqual(reno.state, .congestionAvoidance)

        // A loss of a packet sent after recovery started opens a new period.
        reno.onPacketsLost(afterLoss, persistentCongestion: false, now: driver.now + .milliseconds(1))
        XCTAssertEqual(reno.slowStartThreshold, reno.congestionWindow)
        XCTAssertLessThanOrEqual(reno.congestionWindow, 6_600)
        XCTAssertEqual(reno.state, .recovery)
    }

    func testCongestionAvoidanceAddsOneDatagramPerWindow() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        driver.runRound()  // 24 000
        let packets = driver.fillWindow()
        reno.onPacketsLost([packets[0]], persistentCongestion: false, now: driver.now)
        driver.acknowledgeAfterRoundTrip(Array(packets.dropFirst()))
        XCTAssertEqual(reno.congestionWindow, 12_000)
        driver.runRound()
        XCTAssertEqual(reno.state, .congestionAvoidance)
        XCTAssertEqual(reno.congestionWindow, 13_200)
        driver.runRound()
        XCTAssertEqual(reno.congestionWindow, 14_400)
    }

    func testPersistentCongestionCollapsesToMinimumWindow() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        driver.runRound()
        let packets = driver.fillWindow()
        reno.onPacketsLost(packets, persistentCongestion: true, now: driver.now + .seconds(2))
        XCTAssertEqual(reno.congestionWindow, 2400)
        XCTAssertEqual(reno.bytesInFlight, 0)
        XCTAssertEqual(reno.state, .slowStart)
    }

    func testECNCongestionEventReduces() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        let packets = driver.send(2)
        reno.onECNCongestionEvent(timeSent: packets[1].timeSent, now: driver.now + .milliseconds(50))
        XCTAssertEqual(reno.congestionWindow, 6000)
        XCTAssertEqual(reno.bytesInFlight, 2400, "ECN does not remove bytes in flight")
    }

    func testDiscardedBytesLeaveFlight() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        _ = driver.send(3)
        reno.onPacketsDiscarded(bytes: 2400)
        XCTAssertEqual(reno.bytesInFlight, 1200)
        XCTAssertEqual(reno.congestionWindow, 12_000)
    }

    func testPacingRateScalesWithWindowOverRTT() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        driver.runRound()
        // Slow start: 2 × 24 000 bytes / 100 ms.
        XCTAssertEqual(reno.pacingRate, 480_000)
    }
}

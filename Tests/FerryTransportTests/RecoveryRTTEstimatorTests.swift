import FerryTransport
import XCTest

/// RFC 9002 §5 arithmetic.
final class RecoveryRTTEstimatorTests: XCTestCase {
    func testInitialValuesDeriveFromInitialRTT() {
        let rtt = RTTEstimator()
        XCTAssertFalse(rtt.hasSample)
        XCTAssertEqual(millis(rtt.smoothedRTT), 333)
        XCTAssertEqual(millis(rtt.rttVariance), 166.5)
        // PTO base: 333 + 4 × 166.5 (RFC 9002 §6.2.2).
        XCTAssertEqual(millis(rtt.probeTimeoutBase), 999)
    }

    func testFirstSampleSetsAllEstimates() {
        var rtt = RTTEstimator()
        rtt.update(latestRTT: .milliseconds(100), ackDelay: .milliseconds(10), maxAckDelay: .milliseconds(25),
                   isHandshakeConfirmed: true)
        XCTAssertTrue(rtt.hasSample)
        XCTAssertEqual(millis(rtt.latestRTT), 100)
        XCTAssertEqual(millis(rtt.minRTT), 100)
        XCTAssertEqual(millis(rtt.smoothedRTT), 100, "the first sample ignores ack delay")
        XCTAssertEqual(millis(rtt.rttVariance), 50)
    }

    func testLaterSampleSubtractsAckDelayAndSmooths() {
        var rtt = RTTEstimator()
        rtt.update(latestRTT: .milliseconds(100), ackDelay: .zero, maxAckDelay: .milliseconds(25),
                   isHandshakeConfirmed: true)
        rtt.update(latestRTT: .milliseconds(200), ackDelay: .milliseconds(20), maxAckDelay: .milliseconds(25),
                   isHandshakeConfirmed: true)
        // adjusted = 180; rttvar = 3/4·50 + 1/4·|100 − 180| = 57.5; smoothed = 7/8·100 + 1/8·180 = 110.
        XCTAssertEqual(millis(rtt.minRTT), 100)
        XCTAssertEqual(millis(rtt.latestRTT), 200)
        XCTAssertEqual(millis(rtt.rttVariance), 57.5, accuracy: 0.001)
        XCTAssertEqual(millis(rtt.smoothedRTT), 110, accuracy: 0.001)
    }

    func testAckDelayCappedByMaxAckDelayOnlyAfterConfirmation() {
        var confirmed = RTTEstimator()
        var unconfirmed = RTTEstimator()
        for index in 0..<2 {
            let latest: Duration = index == 0 ? .milliseconds(100) : .milliseconds(200)
            confirmed.update(latestRTT: latest, ackDelay: .milliseconds(50), maxAckDelay: .milliseconds(25),
                             isHandshakeConfirmed: true)
            unconfirmed.update(latestRTT: latest, ackDelay: .milliseconds(50), maxAckDelay: .milliseconds(25),
                               isHandshakeConfirmed: false)
        }
        // Confirmed: adjusted = 200 − 25 = 175 → smoothed 109.375. Unconfirmed: 200 − 50 = 150 → 106.25.
        XCTAssertEqual(millis(confirmed.smoothedRTT), 109.375, accuracy: 0.001)
        XCTAssertEqual(millis(unconfirmed.smoothedRTT), 106.25, accuracy: 0.001)
    }

    func testAckDelayNotSubtractedBelowMinRTT() {
        var rtt = RTTEstimator()
        rtt.update(latestRTT: .milliseconds(100), ackDelay: .zero, maxAckDelay: .milliseconds(25),
                   isHandshakeConfirmed: true)
        rtt.update(latestRTT: .milliseconds(110), ackDelay: .milliseconds(20), maxAckDelay: .milliseconds(25),
                   isHandshakeConfirmed: true)
        // 110 − 20 < min_rtt, so adjusted = 110: smoothed = 87.5 + 13.75.
        XCTAssertEqual(millis(rtt.smoothedRTT), 101.25, accuracy: 0.001)
        XCTAssertEqual(millis(rtt.rttVariance), 40, accuracy: 0.001)
    }

    func testMinRTTTracksSmallestSample() {
        var rtt = RTTEstimator()
        for sample in [80, 60, 90, 70] {
            rtt.update(latestRTT: .milliseconds(sample), ackDelay: .zero, maxAckDelay: .milliseconds(25),
                       isHandshakeConfirmed: true)
        }
        XCTAssertEqual(millis(rtt.minRTT), 60)
        XCTAssertEqual(millis(rtt.latestRTT), 70)
    }

    func testProbeTimeoutBaseUsesGranularityFloor() {
        var rtt = RTTEstimator()
        rtt.update(latestRTT: .microseconds(100), ackDelay: .zero, maxAckDelay: .zero, isHandshakeConfirmed: true)
        // 4 × 50 µs < 1 ms granularity.
        XCTAssertEqual(millis(rtt.probeTimeoutBase), 1.1, accuracy: 0.0001)
    }

    func testAckDelayDecoding() {
        XCTAssertEqual(LossDetection.decodeAckDelay(1250, exponent: 3), .microseconds(10_000))
        XCTAssertEqual(LossDetection.decodeAckDelay(7, exponent: 0), .microseconds(7))
        // Huge values saturate instead of trapping.
        XCTAssertGreaterThan(LossDetection.decodeAckDelay(UInt64(1) << 61, exponent: 20), .seconds(1_000_000))
    }
}

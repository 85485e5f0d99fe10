import FerryTransport
import XCTest

/// RFC 9002 §7.7: a burst-friendly token bucket on a virtual clock.
final class RecoveryPacerTests: XCTestCase {
    /// 1.2 MB/s: one 1200-byte datagram per millisecond.
    private func makePacer() -> Pacer {
        Pacer(rate: 1_200_000, maxDatagramSize: 1200, burstPackets: 10)
    }

    func testInitialBurstThenSpacing() {
        var pacer = makePacer()
        let start = ms(1000)
        for index in 0..<10 {
            XCTAssertNil(pacer.nextSendTime(now: start, packetSize: 1200), "burst packet \(index)")
            pacer.onPacketSent(size: 1200, now: start)
        }
        XCTAssertEqual(pacer.nextSendTime(now: start, packetSize: 1200), ms(1001))
        XCTAssertEqual(pacer.nextSendTime(now: start, packetSize: 600), ms(1000.5))
        XCTAssertEqual(pacer.nextSendTime(now: ms(1000.25), packetSize: 1200), ms(1001))

        // Steady state: each send waits one packet interval.
        var now = ms(1001)
        for _ in 0..<5 {
            XCTAssertNil(pacer.nextSendTime(now: now, packetSize: 1200))
            pacer.onPacketSent(size: 1200, now: now)
            let next = pacer.nextSendTime(now: now, packetSize: 1200)
            XCTAssertEqual(next, now + .milliseconds(1))
            now = next ?? now
        }
    }

    func testIdleRefillIsCappedAtBurst() {
        var pacer = makePacer()
        for _ in 0..<10 { pacer.onPacketSent(size: 1200, now: ms(0)) }
        XCTAssertEqual(pacer.availableTokens(now: ms(5)), 6000)
        XCTAssertEqual(pacer.availableTokens(now: ms(1000)), 12_000, "an idle sender gets one burst, not more")
    }

    func testZeroRateDoesNotPace() {
        var pacer = Pacer(rate: 0)
        for _ in 0..<100 { pacer.onPacketSent(size: 1200, now: ms(0)) }
        XCTAssertNil(pacer.nextSendTime(now: ms(0), packetSize: 1200))
    }

    func testOversizedPacketNeedsOnlyAFullBucket() {
        var pacer = Pacer(rate: 1_200_000, maxDatagramSize: 1200, burstPackets: 2)
        pacer.onPacketSent(size: 2400, now: ms(0))
        XCTAssertEqual(pacer.nextSendTime(now: ms(0), packetSize: 9000), ms(2), "waits for a full bucket, no longer")
    }

    func testRateFollowsCongestionController() {
        let reno = NewReno()
        var driver = CongestionDriver(reno)
        driver.runRound()
        var pacer = Pacer()
        pacer.update(congestionController: reno)
        XCTAssertEqual(pacer.rate, 480_000)
        XCTAssertEqual(pacer.burstSize, 12_000)
        // 24 000-byte window: after a burst of ten, 1200 bytes every 2.5 ms.
        for _ in 0..<10 { pacer.onPacketSent(size: 1200, now: ms(0)) }
        XCTAssertEqual(pacer.nextSendTime(now: ms(0), packetSize: 1200), ms(2.5))
    }
}

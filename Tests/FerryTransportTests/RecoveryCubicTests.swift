import FerryTransport
import XCTest

/// RFC 9438: multiplicative decrease, fast convergence, the cubic window function and the Reno-friendly region.
final class RecoveryCubicTests: XCTestCase {
    /// Slow start 12 000 → 192 000 bytes over four 100 ms rounds, then one loss.
    private func cubicAfterLoss() -> (Cubic, CongestionDriver) {
        let cubic = Cubic()
        var driver = CongestionDriver(cubic)
        for _ in 0..<4 { driver.runRound() }
        XCTAssertEqual(cubic.congestionWindow, 192_000)
        XCTAssertEqual(cubic.state, .slowStart)
        let packets = driver.fillWindow()
        cubic.onPacketsLost([packets[0]], persistentCongestion: false, now: driver.now + .milliseconds(50))
        driver.acknowledgeAfterRoundTrip(Array(packets.dropFirst()))
        return (cubic, driver)
    }

    func testMultiplicativeDecreaseIsSevenTenths() {
        let (cubic, _) = cubicAfterLoss()
        XCTAssertEqual(cubic.congestionWindow, 134_400)
        XCTAssertEqual(cubic.slowStartThreshold, 134_400)
        XCTAssertEqual(cubic.maximumWindow, 192_000)
        XCTAssertEqual(cubic.state, .recovery, "only packets sent before the loss were acknowledged")
    }

    func testWindowFollowsCubicFunction() throws {
        let (cubic, initialDriver) = cubicAfterLoss()
        var driver = initialDriver
        driver.runRound()
        XCTAssertEqual(cubic.state, .congestionAvoidance)
        let epoch = try XCTUnwrap(cubic.epochStart)
        // K = ∛((W_max − cwnd_epoch) / C) in datagrams: ∛((160 − 112) / 0.4) = ∛120 (RFC 9438 §4.2).
        XCTAssertEqual(cubic.timeToMaximum, 4.9324, accuracy: 0.001)
        XCTAssertEqual(cubic.cubicWindow(secondsIntoEpoch: 0), 134_400, accuracy: 1)
        var checked = 0
        for _ in 0..<70 {
            driver.runRound()
            let elapsed = Double((driver.now - epoch).nanosecondsClamped) / 1e9
            let expected = cubic.cubicWindow(secondsIntoEpoch: elapsed)
            // The window tracks W_cubic(t) (concave below W_max, plateau, convex above) within 1 %.
            XCTAssertEqual(Double(cubic.congestionWindow), expected, accuracy: expected * 0.01, "t = \(elapsed)")
            checked += 1
            if abs(elapsed - cubic.timeToMaximum) < 0.05 {
                XCTAssertEqual(Double(cubic.congestionWindow), 192_000, accuracy: 200, "W_max is reached at t = K")
            }
        }
        XCTAssertEqual(checked, 70)
        XCTAssertGreaterThan(cubic.congestionWindow, 192_000, "convex growth past W_max")
    }

    func testFastConvergenceLowersMaximumWindow() {
        let (cubic, initialDriver) = cubicAfterLoss()
        var driver = initialDriver
        driver.runRound()
        let packets = driver.fillWindow()
        let window = Double(cubic.congestionWindow)
        XCTAssertLessThan(window, cubic.maximumWindow)
        cubic.onPacketsLost([packets[0]], persistentCongestion: false, now: driver.now + .milliseconds(10))
        // A loss below the previous W_max: W_max = cwnd × (1 + β) / 2 (RFC 9438 §4.7).
        XCTAssertEqual(cubic.maximumWindow, window * 0.85, accuracy: 1)
        XCTAssertEqual(Double(cubic.congestionWindow), window * 0.7, accuracy: 1)
    }

    func testLossesInSameRecoveryPeriodReduceOnce() {
        let cubic = Cubic()
        var driver = CongestionDriver(cubic)
        driver.runRound()
        let packets = driver.fillWindow()
        cubic.onPacketsLost([packets[0]], persistentCongestion: false, now: driver.now + .milliseconds(50))
        cubic.onPacketsLost([packets[1]], persistentCongestion: false, now: driver.now + .milliseconds(60))
        cubic.onECNCongestionEvent(timeSent: packets[2].timeSent, now: driver.now + .milliseconds(70))
        XCTAssertEqual(cubic.congestionWindow, 16_800)
    }

    func testRenoFriendlyRegionDominatesAtShortRTT() throws {
        let cubic = Cubic()
        var driver = CongestionDriver(cubic, roundTrip: .milliseconds(1))
        driver.runRound()
        let packets = driver.fillWindow()
        cubic.onPacketsLost([packets[0]], persistentCongestion: false, now: driver.now)
        driver.acknowledgeAfterRoundTrip(Array(packets.dropFirst()))
        XCTAssertEqual(cubic.congestionWindow, 16_800)
        var windows: [Int] = []
        for _ in 0..<30 {
            driver.runRound()
            windows.append(cubic.congestionWindow)
        }
        let epoch = try XCTUnwrap(cubic.epochStart)
        let elapsed = Double((driver.now - epoch).nanosecondsClamped) / 1e9
        // W_cubic barely moves in 30 ms (K ≈ 2.5 s) but W_est grows like Reno (RFC 9438 §4.3).
        XCTAssertLessThan(cubic.cubicWindow(secondsIntoEpoch: elapsed + 0.001), 17_500)
        XCTAssertGreaterThan(cubic.congestionWindow, 40_000)
        // Past cwnd_prior α_cubic is 1: one datagram per round trip, like Reno.
        XCTAssertEqual(Double(windows[29] - windows[24]), 5 * 1200, accuracy: 600)
    }

    func testPersistentCongestionCollapsesWindow() {
        let (cubic, initialDriver) = cubicAfterLoss()
        var driver = initialDriver
        let packets = driver.fillWindow()
        cubic.onPacketsLost(packets, persistentCongestion: true, now: driver.now + .seconds(3))
        XCTAssertEqual(cubic.congestionWindow, 2400)
        XCTAssertEqual(cubic.bytesInFlight, 0)
        XCTAssertEqual(cubic.state, .slowStart)
    }

    func testTimeToMaximumForLargeWindow() {
        let cubic = Cubic()
        var driver = CongestionDriver(cubic, roundTrip: .milliseconds(100))
        for _ in 0..<7 { driver.runRound() }
        XCTAssertEqual(cubic.congestionWindow, 1_536_000)
        let packets = driver.fillWindow()
        cubic.onPacketsLost([packets[0]], persistentCongestion: false, now: driver.now)
        driver.acknowledgeAfterRoundTrip(Array(packets.dropFirst()))
        driver.runRound()
        // (1280 − 896) / 0.4 = 960 → K = ∛960.
        XCTAssertEqual(cubic.timeToMaximum, 9.8648, accuracy: 0.001)
    }
}

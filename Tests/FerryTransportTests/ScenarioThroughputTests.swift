import FerryTestSupport
import XCTest

@testable import FerryTransport

/// Bulk throughput at 1 % random loss against the same link without loss (issue 3: at least 50 %).
///
/// The link is a 10 Mbit/s bottleneck with a 20 ms round trip and a 32 KiB drop-tail queue, in both
/// directions; the download is 4 MiB; time is virtual, so the figures do not depend on the machine.
/// `docs/benchmarks.md` ("Loss") quotes the printed line.
final class ScenarioThroughputTests: XCTestCase {
    static let bandwidth: UInt64 = 1_250_000
    static let download = 4 << 20

    static func conditions(lossRate: Double) -> LinkConditions {
        LinkConditions(oneWayDelay: .milliseconds(10), lossRate: lossRate, bandwidth: bandwidth, queueLimit: 32 << 10)
    }

    func testOnePercentLossKeepsHalfTheLosslessThroughput() throws {
        let lossless = try Scenario.bulkTransfer(
            upload: 0, download: Self.download, conditions: Self.conditions(lossRate: 0), seed: 401)
        let lossy = try Scenario.bulkTransfer(
            upload: 0, download: Self.download, conditions: Self.conditions(lossRate: 0.01), seed: 402)
        let losslessRate = lossless.goodput(bytes: Self.download)
        let lossyRate = lossy.goodput(bytes: Self.download)
        let ratio = lossyRate / losslessRate
        print(String(
            format: "loss throughput: link %.2f MB/s, lossless %.3f MB/s (%.2f s), 1%% loss %.3f MB/s (%.2f s), "
                + "ratio %.3f; lost packets %d (lossless %d)",
            Double(Self.bandwidth) / 1e6, losslessRate / 1e6, Double(lossless.transferTime.nanosecondsClamped) / 1e9,
            lossyRate / 1e6, Double(lossy.transferTime.nanosecondsClamped) / 1e9, ratio,
            Int(lossy.serverStats.packetsLost), Int(lossless.serverStats.packetsLost)))
        XCTAssertGreaterThan(losslessRate, Double(Self.bandwidth) * 0.8, "lossless fills the bottleneck")
        XCTAssertGreaterThanOrEqual(ratio, 0.5)
    }

    func testLossThroughputAtLongerRoundTrips() throws {
        // Context for the docs: with a larger bandwidth-delay product, 1 % loss costs more (for any Reno-like or
        // CUBIC sender the window settles near 1.22/sqrt(p) ≈ 12 packets per round trip, RFC 9438 §4.3).
        for (oneWay, seed) in [(Duration.milliseconds(25), UInt64(410)), (.milliseconds(50), 420)] {
            var results: [Double] = []
            for lossRate in [0.0, 0.01] {
                var conditions = Self.conditions(lossRate: lossRate)
                conditions.oneWayDelay = oneWay
                conditions.queueLimit = 64 << 10
                let outcome = try Scenario.bulkTransfer(
                    upload: 0, download: Self.download, conditions: conditions, seed: seed)
                results.append(outcome.goodput(bytes: Self.download))
            }
            print(String(
                format: "loss throughput at %d ms RTT: lossless %.3f MB/s, 1%% loss %.3f MB/s, ratio %.3f",
                Int(oneWay.components.seconds * 2000 + oneWay.components.attoseconds / 500_000_000_000_000),
                results[0] / 1e6, results[1] / 1e6, results[1] / results[0]))
            XCTAssertGreaterThan(results[0], Double(Self.bandwidth) * 0.7, "lossless fills the bottleneck")
            XCTAssertGreaterThan(results[1], results[0] * 0.1, "no collapse")
        }
    }
}

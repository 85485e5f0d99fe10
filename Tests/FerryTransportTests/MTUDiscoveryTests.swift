import FerryTestSupport
import XCTest

@testable import FerryTransport

/// DPLPMTUD (RFC 8899, RFC 9000 §14.3): the search itself, and probing on the simulated network.
final class MTUDiscoveryTests: XCTestCase {
    private let start = Instant(nanoseconds: 1_000_000_000)

    private func probe(_ number: UInt64, size: Int) -> SentPacket {
        SentPacket(packetNumber: number, timeSent: start, size: size, isAckEliciting: true, isMTUProbe: true)
    }

    private func data(_ number: UInt64, size: Int, at time: Instant) -> SentPacket {
        SentPacket(packetNumber: number, timeSent: time, size: size, isAckEliciting: true)
    }

    func testProbesTheMaximumFirstAndStopsWhenItPasses() {
        var discovery = MTUDiscovery(maximumMTU: 1452)
        XCTAssertEqual(discovery.currentMTU, 1200)
        XCTAssertEqual(discovery.probeSize(now: start), 1452)
        discovery.onProbeSent(packetNumber: 7, size: 1452)
        XCTAssertNil(discovery.probeSize(now: start), "one probe at a time")
        XCTAssertTrue(discovery.onPacketsSettled(acknowledged: [probe(7, size: 1452)], lost: []))
        XCTAssertEqual(discovery.currentMTU, 1452)
        XCTAssertNil(discovery.probeSize(now: start))
        // At the maximum there is nothing to raise, even after PMTU_RAISE_TIMER.
        XCTAssertNil(discovery.probeSize(now: start + .seconds(601)))
    }

    func testBinarySearchAfterTheMaximumFails() {
        var discovery = MTUDiscovery(maximumMTU: 1500)
        var packetNumber: UInt64 = 0
        var probed: [Int] = []
        // The path carries 1350 bytes.
        while let size = discovery.probeSize(now: start), probed.count < 30 {
            probed.append(size)
            discovery.onProbeSent(packetNumber: packetNumber, size: size)
            let packet = probe(packetNumber, size: size)
            packetNumber += 1
            _ = size <= 1350
                ? discovery.onPacketsSettled(acknowledged: [packet], lost: [])
                : discovery.onPacketsSettled(acknowledged: [], lost: [packet])
        }
        XCTAssertEqual(Array(probed.prefix(3)), [1500, 1500, 1500], "MAX_PROBES losses before a size fails")
        XCTAssertEqual(probed[3], 1350, "then the middle of (1200, 1500)")
        XCTAssertLessThanOrEqual(discovery.currentMTU, 1350)
        XCTAssertGreaterThan(discovery.currentMTU, 1350 - MTUDiscovery.searchGranularity)
        XCTAssertLessThan(probed.count, 20)
        XCTAssertEqual(discovery.probesLost % MTUDiscovery.maxProbes, 0)
    }

    func testRaiseTimerSearchesAgain() {
        var discovery = MTUDiscovery(maximumMTU: 1452)
        for number in UInt64(0)..<3 {
            XCTAssertEqual(discovery.probeSize(now: start), 1452)
            discovery.onProbeSent(packetNumber: number, size: 1452)
            _ = discovery.onPacketsSettled(acknowledged: [], lost: [probe(number, size: 1452)])
        }
        // Search (1200, 1452): 1326, 1389, 1420 all pass, then the interval is below the granularity.
        var number: UInt64 = 10
        while let size = discovery.probeSize(now: start) {
            discovery.onProbeSent(packetNumber: number, size: size)
            _ = discovery.onPacketsSettled(acknowledged: [probe(number, size: size)], lost: [])
            number += 1
        }
        XCTAssertEqual(discovery.currentMTU, 1420)
        XCTAssertNil(discovery.probeSize(now: start + .seconds(599)))
        XCTAssertEqual(discovery.probeSize(now: start + .seconds(1200)), 1452, "PMTU_RAISE_TIMER re-probes upward")
    }

    func testBlackHoleFallsBackToTheBase() {
        var discovery = MTUDiscovery(maximumMTU: 1452)
        discovery.onProbeSent(packetNumber: 0, size: 1452)
        _ = discovery.onPacketsSettled(acknowledged: [probe(0, size: 1452)], lost: [])
        XCTAssertEqual(discovery.currentMTU, 1452)
        XCTAssertFalse(discovery.limitsProbeTimeoutProbes(ptoCount: 1))
        XCTAssertTrue(discovery.limitsProbeTimeoutProbes(ptoCount: 2))
        // Large packets vanish; a small probe-timeout probe sent after them gets through.
        let lost = (1...5).map { data(UInt64($0), size: 1452, at: start + .milliseconds(Int64($0))) }
        XCTAssertTrue(discovery.onPacketsSettled(
            acknowledged: [data(6, size: 1200, at: start + .milliseconds(50))], lost: lost))
        XCTAssertEqual(discovery.currentMTU, 1200)
        XCTAssertEqual(discovery.blackHoleCount, 1)
        XCTAssertEqual(discovery.probeSize(now: start + .seconds(1)), 1452, "searches again from the top")
    }

    func testScatteredLossIsNotABlackHole() {
        var discovery = MTUDiscovery(maximumMTU: 1452)
        discovery.onProbeSent(packetNumber: 0, size: 1452)
        _ = discovery.onPacketsSettled(acknowledged: [probe(0, size: 1452)], lost: [])
        var number: UInt64 = 1
        for round in 0..<50 {
            let time = start + .milliseconds(Int64(round))
            let lost = (0..<3).map { _ in defer { number += 1 }; return data(number, size: 1452, at: time) }
            let acked = data(number, size: 1452, at: time)
            number += 1
            XCTAssertFalse(discovery.onPacketsSettled(acknowledged: [acked], lost: lost))
        }
        XCTAssertEqual(discovery.currentMTU, 1452)
    }

    // MARK: On the simulated network

    func testConnectionProbesUpToTheConfiguredMaximum() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        XCTAssertEqual(network.client.connection(handle)?.stats.pathMTU, 1200, "1200 until a probe is acknowledged")
        XCTAssertTrue(harness.run(timeLimit: .seconds(2)) {
            network.client.connection(handle)?.stats.pathMTU == 1452 && network.serverConnection?.stats.pathMTU == 1452
        })
        // Bulk data then uses full-size datagrams, and the probes cost no congestion response.
        let client = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        harness.send(patternBytes(count: 300_000), on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(20)) { harness.finishedStreams[.server]?.contains(stream) ?? false })
        XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: 300_000))
        XCTAssertEqual(network.sentSizes[.client]?.max(), 1452)
        XCTAssertEqual(client.recovery.congestionController.slowStartThreshold, .max)
    }

    func testSearchSettlesBelowASmallerPathMTU() throws {
        var transport = TransportConfig()
        transport.maxUDPPayloadSize = 1472
        let network = SimulatedNetwork(transport: transport, conditions: LinkConditions(mtu: 1350))
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        harness.send(patternBytes(count: 500_000), on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) { harness.finishedStreams[.server]?.contains(stream) ?? false })
        XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: 500_000))
        XCTAssertTrue(harness.run(timeLimit: .seconds(30)) { !client.mtuDiscovery.isProbing && client.mtuDiscovery.probeSize(now: network.now) == nil })
        XCTAssertLessThanOrEqual(client.stats.pathMTU, 1350)
        XCTAssertGreaterThan(client.stats.pathMTU, 1350 - MTUDiscovery.searchGranularity)
        XCTAssertEqual(client.stats.packetsLost, UInt64(client.mtuDiscovery.probesLost), "only probes were lost")
        XCTAssertEqual(client.recovery.congestionController.slowStartThreshold, .max, "probe loss is not congestion")
        XCTAssertTrue(harness.closedEvents.isEmpty)
    }

    func testBlackHoleMidTransferFallsBackAndCompletes() throws {
        let network = SimulatedNetwork()
        let harness = StreamHarness(network: network)
        let handle = try harness.establish()
        let client = try XCTUnwrap(network.client.connection(handle))
        XCTAssertTrue(harness.run(timeLimit: .seconds(2)) { client.stats.pathMTU == 1452 })
        let stream = try XCTUnwrap(client.openStream(bidirectional: true))
        let size = 2_000_000
        harness.send(patternBytes(count: size), on: stream, role: .client, handle: handle)
        XCTAssertTrue(harness.run(timeLimit: .seconds(10)) { (harness.received[.server]?[stream]?.count ?? 0) > size / 4 })
        // The path now drops anything above 1300 bytes, silently (a PMTU black hole).
        network.clientToServer.mtu = 1300
        network.serverToClient.mtu = 1300
        XCTAssertTrue(harness.run(timeLimit: .seconds(60)) { harness.finishedStreams[.server]?.contains(stream) ?? false },
                      "stalled at \(harness.received[.server]?[stream]?.count ?? 0) bytes")
        XCTAssertEqual(harness.received[.server]?[stream], patternBytes(count: size))
        XCTAssertGreaterThanOrEqual(client.mtuDiscovery.blackHoleCount, 1)
        XCTAssertLessThanOrEqual(client.stats.pathMTU, 1300)
        XCTAssertTrue(harness.closedEvents.isEmpty)
    }
}

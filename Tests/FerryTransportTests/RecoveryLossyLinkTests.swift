import FerryTransport
import XCTest

/// Sender (LossDetection + congestion controller + pacer) and receiver (ReceivedPacketTracker) joined by a lossy
/// link on a virtual clock: every piece of data must arrive and be acknowledged, with losses repaired by
/// retransmission in new packets (RFC 9000 §13.3) and no protocol violation.
final class RecoveryLossyLinkTests: XCTestCase {
    private struct InTransit {
        var arrival: Instant
        var packetNumber: UInt64
        var items: [UInt64]
    }

    private func runTransfer(
        controller: any CongestionController, itemCount: UInt64, dropsPacket: (UInt64) -> Bool
    ) throws -> (lostPackets: Int, finishTime: Instant) {
        let oneWay = Duration.milliseconds(25)
        var sender = LossDetection(side: .server, congestionController: controller)
        sender.isHandshakeConfirmed = true
        var pacer = Pacer(maxDatagramSize: 1200)
        var receiver = ReceivedPacketTracker(space: .application, maxAckRanges: 16)
        var pending = Array((0..<itemCount).reversed())  // a stack: next item at the end
        var acknowledged = Set<UInt64>()
        var delivered = Set<UInt64>()
        var toReceiver: [InTransit] = []
        var toSender: [(arrival: Instant, ack: AckFrame)] = []
        var nextPacketNumber: UInt64 = 0
        var lostPackets = 0
        var now = Instant.zero

        func transmit(items: [UInt64], at now: Instant) {
            let packetNumber = nextPacketNumber
            nextPacketNumber += 1
            let frames: [SentFrame] = items.isEmpty
                ? [.ping] : items.map { .stream(StreamID(rawValue: 0), offset: $0, length: 1, fin: false) }
            sender.onPacketSent(
                SentPacket(packetNumber: packetNumber, timeSent: now, size: 1200, isAckEliciting: true, frames: frames),
                space: .application, now: now)
            pacer.onPacketSent(size: 1200, now: now)
            if !dropsPacket(packetNumber) {
                toReceiver.append(InTransit(arrival: now + oneWay, packetNumber: packetNumber, items: items))
            }
        }

        func requeue(_ packets: [SentPacket]) {
            lostPackets += packets.count
            for packet in packets {
                for case .stream(_, let offset, _, _) in packet.frames where !acknowledged.contains(offset) {
                    pending.append(offset)
                }
            }
        }

        while acknowledged.count < Int(itemCount) {
            XCTAssertLessThan(now, ms(60_000), "transfer stalled")
            if now >= ms(60_000) { break }
            // Receiver side.
            while let first = toReceiver.first, first.arrival <= now {
                toReceiver.removeFirst()
                guard !receiver.isDuplicate(first.packetNumber) else { continue }
                receiver.onPacketReceived(packetNumber: first.packetNumber, isAckEliciting: true, now: now)
                delivered.formUnion(first.items)
            }
            if receiver.isAckDue(now: now), let ack = receiver.makeAckFrame(now: now) {
                receiver.onAckSent()
                toSender.append((now + oneWay, ack))
            }
            // Sender side: ACKs, timers, then new data.
            while let first = toSender.first, first.arrival <= now {
                toSender.removeFirst()
                let result = try sender.onAckReceived(
                    first.ack, space: .application, maxAckDelay: .milliseconds(25), now: now)
                for packet in result.newlyAcknowledged {
                    for case .stream(_, let offset, _, _) in packet.frames { acknowledged.insert(offset) }
                }
                requeue(result.lost)
                XCTAssertFalse(result.isPersistentCongestion)
                pacer.update(congestionController: controller)
            }
            switch sender.onTimeout(now: now) {
            case .packetsLost(_, let packets, _):
                requeue(packets)
            case .sendProbes(_, let count):
                for _ in 0..<count {
                    transmit(items: pending.popLast().map { [$0] } ?? [], at: now)
                }
            case .none:
                break
            }
            while !pending.isEmpty, controller.canSend(bytes: 1200),
                pacer.nextSendTime(now: now, packetSize: 1200) == nil
            {
                let item = pending.removeLast()
                if acknowledged.contains(item) { continue }
                transmit(items: [item], at: now)
            }
            now = now + .microseconds(500)
        }
        XCTAssertEqual(delivered.count, Int(itemCount))
        XCTAssertEqual(acknowledged.count, Int(itemCount))
        return (lostPackets, now)
    }

    func testCleanTransferIsFast() throws {
        let cubic = Cubic()
        let outcome = try runTransfer(controller: cubic, itemCount: 3000) { _ in false }
        XCTAssertEqual(outcome.lostPackets, 0)
        XCTAssertLessThan(outcome.finishTime, ms(1000), "slow start opens the window within a few round trips")
        XCTAssertEqual(cubic.slowStartThreshold, .max)
    }

    func testCubicTransferRepairsPeriodicLoss() throws {
        let cubic = Cubic()
        // About 1 % loss: Mathis-style throughput ≈ 1.22 / √p ≈ 12 packets per 50 ms round trip.
        let outcome = try runTransfer(controller: cubic, itemCount: 3000) { $0 % 97 == 5 }
        XCTAssertGreaterThanOrEqual(outcome.lostPackets, 30)
        XCTAssertNotEqual(cubic.slowStartThreshold, .max, "losses reduced the window")
        XCTAssertLessThan(outcome.finishTime, ms(20_000))
    }

    func testCubicTransferCompletesUnderHeavyLoss() throws {
        // About 9 % loss.
        let outcome = try runTransfer(controller: Cubic(), itemCount: 3000) { $0 % 17 == 5 || $0 % 29 == 11 }
        XCTAssertGreaterThan(outcome.lostPackets, 250)
    }

    func testNewRenoTransferSurvivesBurstLoss() throws {
        let reno = NewReno()
        // A 40-packet outage early on, then a clean link.
        let outcome = try runTransfer(controller: reno, itemCount: 1000) { (30..<70).contains($0) }
        XCTAssertGreaterThanOrEqual(outcome.lostPackets, 40)
        XCTAssertLessThan(outcome.finishTime, ms(20_000))
    }

    func testTailLossIsRepairedByProbeTimeout() throws {
        let reno = NewReno()
        // The last packets of a short transfer are dropped: only a PTO can recover them (RFC 9002 §6.2).
        let outcome = try runTransfer(controller: reno, itemCount: 10) { (7..<10).contains($0) }
        XCTAssertGreaterThanOrEqual(outcome.lostPackets, 3)
    }
}

import FerryTransport
import FerryWire
import XCTest

final class StreamBufferTests: XCTestCase {
    // MARK: SendBuffer

    /// Emits one segment into a fresh array.
    private func emit(_ buffer: inout SendBuffer, maxLength: Int, credit: UInt64 = .max) -> (SendBuffer.Segment, [UInt8])? {
        guard let segment = buffer.nextSegment(maxLength: maxLength, newDataLimit: credit) else { return nil }
        let bytes = ByteWriter.encode(capacity: segment.length) { writer in buffer.emit(segment, into: &writer) }
        return (segment, bytes)
    }

    func testSendBufferEmitsInOrderAndRespectsCredit() {
        var buffer = SendBuffer()
        buffer.append(streamTestBytes(offset: 0, count: 1000))
        buffer.append(streamTestBytes(offset: 1000, count: 500))
        XCTAssertEqual(buffer.bufferedCount, 1500)
        let first = emit(&buffer, maxLength: 600)
        XCTAssertEqual(first?.0, SendBuffer.Segment(offset: 0, length: 600, fin: false, isRetransmission: false))
        XCTAssertEqual(first?.1, streamTestBytes(offset: 0, count: 600))
        let second = emit(&buffer, maxLength: 2000, credit: 100)
        XCTAssertEqual(second?.0.length, 100)
        XCTAssertEqual(second?.1, streamTestBytes(offset: 600, count: 100))
        XCTAssertNil(buffer.nextSegment(maxLength: 2000, newDataLimit: 0))
        XCTAssertTrue(buffer.isBlocked(newDataLimit: 0))
        let rest = emit(&buffer, maxLength: 2000)
        XCTAssertEqual(rest?.0.offset, 700)
        XCTAssertEqual(rest?.1, streamTestBytes(offset: 700, count: 800))
        XCTAssertNil(buffer.nextSegment(maxLength: 2000, newDataLimit: .max))
    }

    func testSendBufferFinAttachesToLastByteAndFinOnlyFrame() {
        var buffer = SendBuffer()
        buffer.append(streamTestBytes(offset: 0, count: 10))
        buffer.finish()
        let segment = emit(&buffer, maxLength: 100)?.0
        XCTAssertEqual(segment, SendBuffer.Segment(offset: 0, length: 10, fin: true, isRetransmission: false))
        XCTAssertTrue(buffer.isEverythingSent)

        var empty = SendBuffer()
        empty.append(streamTestBytes(offset: 0, count: 5))
        _ = emit(&empty, maxLength: 100)
        empty.finish()
        XCTAssertEqual(emit(&empty, maxLength: 100)?.0,
                       SendBuffer.Segment(offset: 5, length: 0, fin: true, isRetransmission: false))
    }

    func testSendBufferRetransmitsExactlyLostRangesBeforeNewData() {
        var buffer = SendBuffer()
        buffer.append(streamTestBytes(offset: 0, count: 5000))
        for _ in 0..<4 { _ = emit(&buffer, maxLength: 1000) }  // 0..<4000 sent
        buffer.acknowledge(offset: 0, length: 1000, fin: false)
        buffer.markLost(offset: 1000, length: 1000, fin: false)
        buffer.acknowledge(offset: 2000, length: 1000, fin: false)
        buffer.markLost(offset: 3000, length: 1000, fin: false)
        XCTAssertEqual(buffer.lostRanges, [1000..<2000, 3000..<4000])
        let retransmitA = emit(&buffer, maxLength: 1200)
        XCTAssertEqual(retransmitA?.0, SendBuffer.Segment(offset: 1000, length: 1000, fin: false, isRetransmission: true))
        XCTAssertEqual(retransmitA?.1, streamTestBytes(offset: 1000, count: 1000))
        let retransmitB = emit(&buffer, maxLength: 600, credit: 0)  // retransmissions ignore flow control
        XCTAssertEqual(retransmitB?.0, SendBuffer.Segment(offset: 3000, length: 600, fin: false, isRetransmission: true))
        XCTAssertEqual(emit(&buffer, maxLength: 1200)?.0.offset, 3600)
        XCTAssertEqual(emit(&buffer, maxLength: 1200)?.0, SendBuffer.Segment(offset: 4000, length: 1000, fin: false, isRetransmission: false))
    }

    func testSendBufferLossOfAcknowledgedPartsIsNotResent() {
        var buffer = SendBuffer()
        buffer.append(streamTestBytes(offset: 0, count: 3000))
        _ = emit(&buffer, maxLength: 3000)
        buffer.acknowledge(offset: 1000, length: 500, fin: false)
        buffer.markLost(offset: 0, length: 3000, fin: false)
        XCTAssertEqual(buffer.lostRanges, [0..<1000, 1500..<3000])
        buffer.acknowledge(offset: 0, length: 1000, fin: false)
        XCTAssertEqual(buffer.acknowledgedOffset, 1500)
        XCTAssertEqual(buffer.lostRanges, [1500..<3000])
        XCTAssertEqual(buffer.bufferedCount, 1500)
    }

    func testSendBufferAcknowledgementReleasesPrefixAndCompletes() {
        var buffer = SendBuffer()
        buffer.append(streamTestBytes(offset: 0, count: 2000))
        buffer.finish()
        _ = emit(&buffer, maxLength: 1000)
        _ = emit(&buffer, maxLength: 1000)
        XCTAssertFalse(buffer.acknowledge(offset: 1000, length: 1000, fin: true))
        XCTAssertEqual(buffer.bufferedCount, 2000)
        XCTAssertFalse(buffer.isFullyAcknowledged)
        XCTAssertTrue(buffer.acknowledge(offset: 0, length: 1000, fin: false))
        XCTAssertEqual(buffer.bufferedCount, 0)
        XCTAssertTrue(buffer.isFullyAcknowledged)
    }

    func testSendBufferLostFinIsResent() {
        var buffer = SendBuffer()
        buffer.append(streamTestBytes(offset: 0, count: 100))
        buffer.finish()
        _ = emit(&buffer, maxLength: 1000)
        buffer.acknowledge(offset: 0, length: 100, fin: false)
        buffer.markLost(offset: 0, length: 100, fin: true)
        XCTAssertEqual(emit(&buffer, maxLength: 1000)?.0,
                       SendBuffer.Segment(offset: 100, length: 0, fin: true, isRetransmission: false))
    }

    func testSendBufferWrapsAroundRingAndGrows() {
        var buffer = SendBuffer()
        var written = 0
        var sent: [UInt8] = []
        var random = StreamTestRandom(seed: 7)
        for _ in 0..<200 {
            let count = 1 + random.next(below: 3000)
            buffer.append(streamTestBytes(offset: written, count: count))
            written += count
            while let (segment, bytes) = emit(&buffer, maxLength: 1 + random.next(below: 1500)) {
                sent += bytes
                if random.next(below: 2) == 0 {
                    buffer.acknowledge(offset: segment.offset, length: segment.length, fin: false)
                } else {
                    buffer.acknowledge(offset: 0, length: Int(segment.offset) + segment.length, fin: false)
                }
            }
        }
        XCTAssertEqual(sent, streamTestBytes(offset: 0, count: written))
    }

    // MARK: ReceiveBuffer

    func testReceiveBufferInOrderFastPath() {
        var buffer = ReceiveBuffer()
        XCTAssertTrue(buffer.insert(offset: 0, bytes: ArraySlice(streamTestBytes(offset: 0, count: 100))))
        XCTAssertTrue(buffer.insert(offset: 100, bytes: ArraySlice(streamTestBytes(offset: 100, count: 100))))
        XCTAssertEqual(buffer.readableCount, 200)
        XCTAssertEqual(buffer.read(maxLength: 150), streamTestBytes(offset: 0, count: 150))
        XCTAssertEqual(buffer.read(maxLength: 150), streamTestBytes(offset: 150, count: 50))
        XCTAssertEqual(buffer.read(maxLength: 150), [])
    }

    func testReceiveBufferGapsAndDuplicates() {
        var buffer = ReceiveBuffer()
        XCTAssertFalse(buffer.insert(offset: 10, bytes: ArraySlice(streamTestBytes(offset: 10, count: 10))))
        XCTAssertEqual(buffer.readableCount, 0)
        XCTAssertEqual(buffer.highestOffset, 20)
        XCTAssertTrue(buffer.insert(offset: 0, bytes: ArraySlice(streamTestBytes(offset: 0, count: 5))))
        XCTAssertEqual(buffer.readableCount, 5)
        XCTAssertTrue(buffer.insert(offset: 3, bytes: ArraySlice(streamTestBytes(offset: 3, count: 10))))
        XCTAssertEqual(buffer.readableCount, 20)
        XCTAssertFalse(buffer.insert(offset: 0, bytes: ArraySlice(streamTestBytes(offset: 0, count: 20))))
        XCTAssertEqual(buffer.read(maxLength: 100), streamTestBytes(offset: 0, count: 20))
    }

    func testReceiveBufferFinalSizeValidation() {
        var buffer = ReceiveBuffer()
        buffer.insert(offset: 0, bytes: ArraySlice(streamTestBytes(offset: 0, count: 50)))
        XCTAssertFalse(buffer.validate(offset: 0, length: 40, fin: true))  // FIN below data received
        XCTAssertTrue(buffer.validate(offset: 50, length: 10, fin: true))
        XCTAssertTrue(buffer.setFinalSize(60))
        XCTAssertFalse(buffer.setFinalSize(61))
        XCTAssertFalse(buffer.validate(offset: 55, length: 10, fin: false))  // beyond final size
        XCTAssertFalse(buffer.validate(offset: 0, length: 10, fin: true))  // different final size
        XCTAssertTrue(buffer.validate(offset: 50, length: 10, fin: true))
        buffer.insert(offset: 50, bytes: ArraySlice(streamTestBytes(offset: 50, count: 10)))
        XCTAssertTrue(buffer.isComplete)
        _ = buffer.read(maxLength: 100)
        XCTAssertTrue(buffer.isFullyRead)
    }

    func testReceiveBufferRandomisedReassembly() {
        for seed in UInt64(1)...20 {
            var random = StreamTestRandom(seed: seed)
            let total = 20_000 + random.next(below: 50_000)
            let payload = streamTestBytes(offset: 0, count: total)
            // Chunks covering everything, then duplicates and overlapping extras, shuffled.
            var pieces: [Range<Int>] = []
            var position = 0
            while position < total {
                let length = min(total - position, 1 + random.next(below: 1400))
                pieces.append(position..<(position + length))
                position += length
            }
            for _ in 0..<(pieces.count / 2) {
                let start = random.next(below: total)
                pieces.append(start..<min(total, start + 1 + random.next(below: 3000)))
            }
            for index in pieces.indices.reversed() {
                pieces.swapAt(index, random.next(below: index + 1))
            }
            var buffer = ReceiveBuffer()
            var received: [UInt8] = []
            for piece in pieces {
                buffer.insert(offset: UInt64(piece.lowerBound), bytes: payload[piece])
                if random.next(below: 4) == 0 {
                    received += buffer.read(maxLength: 1 + random.next(below: 5000))
                }
            }
            received += buffer.read(maxLength: total)
            XCTAssertEqual(received.count, total, "seed \(seed)")
            XCTAssertEqual(received, payload, "seed \(seed)")
        }
    }

    // MARK: Flow control

    func testReceiveWindowUpdatesBelowHalf() {
        var window = ReceiveWindow(initialLimit: 1000)
        XCTAssertTrue(window.recordReceived(upTo: 1000))
        XCTAssertFalse(window.recordReceived(upTo: 1001))
        window.recordConsumed(400)
        XCTAssertFalse(window.needsUpdate)  // 600 unconsumed ≥ half
        window.recordConsumed(200)
        XCTAssertTrue(window.needsUpdate)  // 400 < 500
        XCTAssertEqual(window.makeUpdate(), 1600)
        XCTAssertFalse(window.needsUpdate)
        XCTAssertTrue(window.recordReceived(upTo: 1600))
    }

    func testSendCreditReportsBlockedOncePerLimit() {
        var credit = SendCredit(limit: 100)
        credit.consume(100)
        XCTAssertEqual(credit.available, 0)
        XCTAssertTrue(credit.shouldReportBlocked())
        XCTAssertFalse(credit.shouldReportBlocked())
        XCTAssertFalse(credit.raise(to: 50))
        XCTAssertTrue(credit.raise(to: 200))
        XCTAssertEqual(credit.available, 100)
    }
}

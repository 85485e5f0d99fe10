@testable import Ferry
import XCTest

final class HookPathEventTests: XCTestCase {
    private func info(_ id: UInt64) -> PathInfo {
        PathInfo(
            id: PathID(rawValue: id), localAddress: HostPort(host: "0.0.0.0", port: 1),
            remoteAddress: HostPort(host: "192.0.2.1", port: UInt16(1000 + id)), isSelected: false, stats: PathStats())
    }

    func testSlowConsumerLagsAndKeepsNewestEvents() async {
        let broadcaster = PathEventBroadcaster(bufferCapacity: 4)
        let events = broadcaster.subscribe()
        for id in 0..<10 { broadcaster.publish(.opened(info(UInt64(id)))) }
        broadcaster.finish()
        var received: [PathEvent] = []
        for await event in events { received.append(event) }
        XCTAssertEqual(received, [.lagged(missed: 6)] + (6..<10).map { .opened(info(UInt64($0))) })
    }

    func testLaggingRepeatsAfterCatchingUp() async {
        let broadcaster = PathEventBroadcaster(bufferCapacity: 2)
        let events = broadcaster.subscribe()
        var iterator = events.makeAsyncIterator()
        for id in 0..<3 { broadcaster.publish(.opened(info(UInt64(id)))) }
        let first = await iterator.next()
        XCTAssertEqual(first, .lagged(missed: 1))
        let second = await iterator.next()
        XCTAssertEqual(second, .opened(info(1)))
        let third = await iterator.next()
        XCTAssertEqual(third, .opened(info(2)))
        for id in 3..<8 { broadcaster.publish(.opened(info(UInt64(id)))) }
        let fourth = await iterator.next()
        XCTAssertEqual(fourth, .lagged(missed: 3))
        let fifth = await iterator.next()
        XCTAssertEqual(fifth, .opened(info(6)))
    }

    func testWaitingConsumerIsWokenByPublish() async {
        let broadcaster = PathEventBroadcaster()
        let events = broadcaster.subscribe()
        let consumer = Task { () -> [PathEvent] in
            var received: [PathEvent] = []
            for await event in events { received.append(event) }
            return received
        }
        broadcaster.publish(.selected(info(1)))
        broadcaster.publish(.closed(PathID(rawValue: 1), lastStats: PathStats(bytesSent: 9)))
        broadcaster.finish()
        let received = await consumer.value
        XCTAssertEqual(received, [.selected(info(1)), .closed(PathID(rawValue: 1), lastStats: PathStats(bytesSent: 9))])
    }

    func testEachSubscriberHasItsOwnBuffer() async {
        let broadcaster = PathEventBroadcaster(bufferCapacity: 1)
        let slow = broadcaster.subscribe()
        let fast = broadcaster.subscribe()
        var fastIterator = fast.makeAsyncIterator()
        broadcaster.publish(.opened(info(0)))
        let fastFirst = await fastIterator.next()
        XCTAssertEqual(fastFirst, .opened(info(0)))
        broadcaster.publish(.opened(info(1)))
        let fastSecond = await fastIterator.next()
        XCTAssertEqual(fastSecond, .opened(info(1)))
        broadcaster.finish()
        var slowEvents: [PathEvent] = []
        for await event in slow { slowEvents.append(event) }
        XCTAssertEqual(slowEvents, [.lagged(missed: 1), .opened(info(1))])
    }

    func testSubscribingAfterFinishEndsAtOnce() async {
        let broadcaster = PathEventBroadcaster()
        broadcaster.finish()
        var iterator = broadcaster.subscribe().makeAsyncIterator()
        let event = await iterator.next()
        XCTAssertNil(event)
        XCTAssertEqual(broadcaster.subscriberCount, 0)
    }

    func testDroppedSequenceUnsubscribes() {
        let broadcaster = PathEventBroadcaster()
        do {
            let events = broadcaster.subscribe()
            XCTAssertEqual(broadcaster.subscriberCount, 1)
            _ = events
        }
        XCTAssertEqual(broadcaster.subscriberCount, 0)
        broadcaster.publish(.opened(info(0)))
    }

    func testCancelledConsumerEnds() async {
        let broadcaster = PathEventBroadcaster()
        let events = broadcaster.subscribe()
        let started = Signal()
        let consumer = Task { () -> Int in
            var count = 0
            started.fire()
            for await _ in events { count += 1 }
            return count
        }
        await started.wait()
        consumer.cancel()
        let count = await consumer.value
        XCTAssertEqual(count, 0)
    }
}

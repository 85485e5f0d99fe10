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

    // MARK: Migration end to end (RFC 9000 §9)

    /// Takes `count` events from `events`, or fewer if the sequence ends.
    private static func take(_ count: Int, from events: PathEvents) async -> [PathEvent] {
        var iterator = events.makeAsyncIterator()
        var taken: [PathEvent] = []
        while taken.count < count, let event = await iterator.next() { taken.append(event) }
        return taken
    }

    private static func summary(_ events: [PathEvent]) -> [String] {
        events.map { event in
            switch event {
            case .opened(let path): "opened \(path.id.rawValue)"
            case .selected(let path): "selected \(path.id.rawValue)"
            case .closed(let id, _): "closed \(id.rawValue)"
            case .lagged(let missed): "lagged \(missed)"
            case .punchRoundEnded(let round): "punch round \(round.number)"
            }
        }
    }

    func testRebindMidTransferMigratesWithPathEventsAndEchoesByteExact() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(30) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "echo/1")
                let accepted = await server.nextAccepted()
                let serverConnection = try XCTUnwrap(accepted)
                let serverEvents = await serverConnection.pathEvents()
                let clientEvents = await connection.pathEvents()
                let initialPaths = await connection.paths()
                XCTAssertEqual(initialPaths.map(\.id), [PathID(rawValue: 0)])
                let (send, receive) = try await connection.openBidirectionalStream()
                let payload = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
                let reader = Task { () throws -> [UInt8] in
                    var echoed: [UInt8] = []
                    while let bytes = try await receive.read() { echoed += bytes }
                    return echoed
                }
                let half = payload.count / 2
                for start in stride(from: 0, to: half, by: 50_000) {
                    try await send.write(Array(payload[start..<min(start + 50_000, half)]))
                }
                let oldAddress = await client.currentLocalAddress()
                let newAddress = try await client.rebind(host: "127.0.0.1")
                XCTAssertNotEqual(newAddress.port, oldAddress.port)
                let reported = await client.currentLocalAddress()
                XCTAssertEqual(reported, newAddress)
                for start in stride(from: half, to: payload.count, by: 50_000) {
                    try await send.write(Array(payload[start..<min(start + 50_000, payload.count)]))
                }
                try await send.finish()
                let echoed = try await reader.value
                XCTAssertEqual(echoed.count, payload.count)
                XCTAssertTrue(echoed == payload, "echo intact across the rebind")

                let clientSeen = await Self.take(3, from: clientEvents)
                XCTAssertEqual(Self.summary(clientSeen), ["opened 1", "selected 1", "closed 0"])
                let serverSeen = await Self.take(3, from: serverEvents)
                XCTAssertEqual(Self.summary(serverSeen), ["opened 1", "selected 1", "closed 0"])
                if case .closed(_, let lastStats)? = serverSeen.last {
                    XCTAssertGreaterThan(lastStats.bytesReceived, 0, "the old path's counters")
                }
                let serverPaths = await serverConnection.paths()
                XCTAssertEqual(serverPaths.count, 1)
                XCTAssertEqual(serverPaths.first?.remoteAddress.port, newAddress.port)
                XCTAssertEqual(serverPaths.first?.isSelected, true)
                XCTAssertGreaterThan(serverPaths.first?.stats.datagramsReceived ?? 0, 0)
                let clientPaths = await connection.paths()
                XCTAssertEqual(clientPaths.map(\.id), [PathID(rawValue: 1)])
                XCTAssertEqual(clientPaths.first?.localAddress.port, newAddress.port)
            }
        }
    }
}

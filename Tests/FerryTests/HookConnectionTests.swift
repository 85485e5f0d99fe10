@testable import Ferry
import XCTest

final class HookConnectionTests: XCTestCase {
    func testViewForwardsReadOnlyQueries() async {
        var stats = ConnectionStats()
        stats.bytesSent = 1234
        stats.smoothedRTT = .milliseconds(12)
        let path = PathInfo(
            id: PathID(rawValue: 0),
            localAddress: HostPort(host: "0.0.0.0", port: 4433),
            remoteAddress: HostPort(host: "192.0.2.1", port: 5000),
            isSelected: true,
            stats: PathStats(connection: stats)
        )
        let source = FakeObservable(stats: stats, paths: [path])
        let connection = HookFixtures.connection(source: source)
        XCTAssertEqual(connection.remoteID, HookFixtures.id)
        XCTAssertEqual(connection.alpn, "echo/1")
        XCTAssertEqual(connection.side, .server)
        let observedStats = await connection.stats()
        XCTAssertEqual(observedStats, stats)
        let paths = await connection.paths()
        XCTAssertEqual(paths, [path])
        XCTAssertEqual(paths.first?.stats.rtt, .milliseconds(12))
        XCTAssertEqual(paths.first?.stats.bytesSent, 1234)

        let closed = Task { await connection.closed }
        source.closeSignal.fire()
        let reason = await closed.value
        XCTAssertEqual(reason, .idleTimeout)
    }

    func testPathEventsReachTheHook() async {
        let source = FakeObservable()
        let connection = HookFixtures.connection(source: source)
        let events = connection.pathEvents()
        let info = PathInfo(
            id: PathID(rawValue: 0), localAddress: HostPort(host: "0.0.0.0", port: 1),
            remoteAddress: HostPort(host: "192.0.2.1", port: 2), isSelected: true, stats: PathStats())
        source.broadcaster.publish(.opened(info))
        source.broadcaster.publish(.selected(info))
        source.broadcaster.publish(.closed(info.id, lastStats: info.stats))
        source.broadcaster.finish()
        var received: [PathEvent] = []
        for await event in events { received.append(event) }
        XCTAssertEqual(received, [.opened(info), .selected(info), .closed(info.id, lastStats: info.stats)])
    }

    func testWeakHandleDoesNotKeepTheConnectionAlive() async {
        weak var probe: FakeObservable?
        var handle: WeakConnectionHandle?
        do {
            let source = FakeObservable(paths: [])
            probe = source
            let connection = HookFixtures.connection(source: source)
            handle = connection.weakHandle()
            XCTAssertEqual(handle?.isAlive, true)
            let stats = await handle?.stats()
            XCTAssertNotNil(stats)
        }
        XCTAssertNil(probe, "the weak handle kept the connection object alive")
        guard let handle else { return XCTFail("no handle") }
        XCTAssertFalse(handle.isAlive)
        let stats = await handle.stats()
        XCTAssertNil(stats)
        let paths = await handle.paths()
        XCTAssertEqual(paths, [])
        var iterator = handle.pathEvents().makeAsyncIterator()
        let event = await iterator.next()
        XCTAssertNil(event)
        // Identity fields are copies and stay readable.
        XCTAssertEqual(handle.remoteID, HookFixtures.id)
        XCTAssertEqual(handle.alpn, "echo/1")
    }

    func testHookConnectionReleasesItsSourceWithIt() {
        weak var probe: FakeObservable?
        var connection: HookConnection? = HookFixtures.connection(source: {
            let source = FakeObservable()
            probe = source
            return source
        }())
        XCTAssertNotNil(probe)
        XCTAssertNotNil(connection)
        connection = nil
        XCTAssertNil(probe)
    }
}

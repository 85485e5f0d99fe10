import ExampleSupport
import Ferry
import Foundation

// hooks-monitor: the listener's afterHandshake hook forwards a weak handle (and a path-event subscription taken
// in the hook, so nothing is missed) to one monitor task and accepts at once. The monitor logs each
// connection's RTT while it runs and its final path counters when it closes. Weak handles never keep a
// connection or the endpoint alive (docs/hooks.md, "What a hook can see").

/// What the hook hands to the monitor.
struct Watch: Sendable {
    let handle: WeakConnectionHandle
    let events: PathEvents
}

/// Forwards every accepted connection to the monitor; never rejects.
struct ForwardToMonitor: EndpointHooks {
    let monitor: AsyncStream<Watch>.Continuation

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        monitor.yield(Watch(handle: connection.weakHandle(), events: connection.pathEvents()))
        return .accept
    }
}

/// What the monitor reports back, so the example can wait for it instead of sleeping.
enum MonitorReport: Sendable {
    case watching
    case finished
}

let (watches, monitorInput) = AsyncStream.makeStream(of: Watch.self)
let (reports, reportSink) = AsyncStream.makeStream(of: MonitorReport.self)

// The monitor: one task for all connections, one child per watched connection.
let monitor = Task {
    await withDiscardingTaskGroup { group in
        for await watch in watches {
            group.addTask {
                let peer = watch.handle.remoteID.shortDescription
                if let stats = await watch.handle.stats() {
                    print("monitor: watching \(peer) from \(watch.handle.remoteAddress), rtt \(milliseconds(stats.smoothedRTT))")
                }
                reportSink.yield(.watching)
                for await event in watch.events {
                    switch event {
                    case .closed(let path, let last):
                        print(
                            "monitor: \(peer) \(path) closed: rtt \(milliseconds(last.rtt)) (min \(milliseconds(last.minRTT))), "
                                + "sent \(last.bytesSent) B in \(last.datagramsSent) datagrams, received \(last.bytesReceived) B, "
                                + "lost \(last.lostPackets) packets, mtu \(last.mtu)"
                        )
                    case .lagged(let missed):
                        print("monitor: \(peer) missed \(missed) path events")
                    case .opened, .selected, .punchRoundEnded:
                        break
                    }
                }
                reportSink.yield(.finished)
            }
        }
    }
}

let listener = try await Endpoint.bind(
    host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"], hooks: [ForwardToMonitor(monitor: monitorInput)])
print("listener: \(listener.address)")
let echoServer = serveEcho(on: listener)

/// Dials, exchanges data, closes, and checks the monitor saw every step.
@MainActor
func exercise(reports: AsyncStream<MonitorReport>) async throws {
    var reportIterator = reports.makeAsyncIterator()
    let dialerCount = 3
    var dialers: [Endpoint] = []
    var connections: [Connection] = []
    for _ in 0..<dialerCount {
        let dialer = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        dialers.append(dialer)
        connections.append(try await dialer.connect(to: listener.address, alpn: "echo/1"))
    }
    for _ in 0..<dialerCount {
        let report = await reportIterator.next()
        require(report == .watching, "the monitor did not pick up every connection")
    }

    // Some traffic, so the final counters say something.
    for (index, connection) in connections.enumerated() {
        let payload = [UInt8](repeating: UInt8(index), count: 16_384 * (index + 1))
        let (send, receive) = try await connection.openBidirectionalStream()
        try await send.write(payload, finish: true)
        var echoed = 0
        while let bytes = try await receive.read() { echoed += bytes.count }
        print("dialer \(index + 1): echoed \(echoed) bytes")
        require(echoed == payload.count, "short echo")
    }

    for connection in connections { connection.close(code: 0, reason: "done") }
    for _ in 0..<dialerCount {
        let report = await reportIterator.next()
        require(report == .finished, "the monitor did not see every close")
    }
    print("monitor: saw \(dialerCount) connections open and close")

    connections.removeAll()
    for dialer in dialers { await dialer.close() }
    await listener.close()
    monitorInput.finish()
    await monitor.value
    await echoServer.value
}

try await exercise(reports: reports)
print("hooks-monitor: ok")

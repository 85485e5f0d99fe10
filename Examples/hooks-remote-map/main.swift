import ExampleSupport
import Ferry
import Foundation

// hooks-remote-map: an observing hook that aggregates, per remote endpoint id, how many connections it made,
// the smallest and largest RTT seen, and every path (remote address) it used. The hook records at handshake
// time and follows each connection's path events to fold in the final counters at close. Two dialers share one
// identity, so the listener sees one remote id over two paths.

/// What the map knows about one remote id.
struct RemoteSummary: Sendable {
    var connections = 0
    var minRTT: Duration?
    var maxRTT: Duration?
    var paths: Set<HostPort> = []

    mutating func fold(rtt: Duration) {
        guard rtt > .zero else { return }
        minRTT = min(minRTT ?? rtt, rtt)
        maxRTT = max(maxRTT ?? rtt, rtt)
    }
}

/// The aggregate, keyed by remote id; tracks the per-connection follower tasks so it can wait for them.
actor RemoteMap {
    private(set) var remotes: [EndpointID: RemoteSummary] = [:]
    private var followers: [Task<Void, Never>] = []

    func connected(_ id: EndpointID, paths: [PathInfo]) {
        remotes[id, default: RemoteSummary()].connections += 1
        for path in paths {
            remotes[id, default: RemoteSummary()].paths.insert(path.remoteAddress)
            remotes[id, default: RemoteSummary()].fold(rtt: path.stats.rtt)
        }
    }

    func observed(_ id: EndpointID, event: PathEvent) {
        switch event {
        case .opened(let path), .selected(let path):
            remotes[id, default: RemoteSummary()].paths.insert(path.remoteAddress)
            remotes[id, default: RemoteSummary()].fold(rtt: path.stats.rtt)
        case .closed(_, let last):
            remotes[id, default: RemoteSummary()].fold(rtt: last.rtt)
            remotes[id, default: RemoteSummary()].fold(rtt: last.minRTT)
        case .lagged, .punchRoundEnded:
            break
        }
    }

    func follow(_ task: Task<Void, Never>) { followers.append(task) }

    /// Waits until every followed connection has closed.
    func settle() async {
        let tasks = followers
        followers.removeAll()
        for task in tasks { await task.value }
    }
}

/// Feeds the map; accepts everything.
struct RemoteMapHook: EndpointHooks {
    let map: RemoteMap

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        let id = connection.remoteID
        await map.connected(id, paths: await connection.paths())
        let events = connection.pathEvents()
        let map = self.map
        await map.follow(Task {
            for await event in events { await map.observed(id, event: event) }
        })
        return .accept
    }
}

/// Dials `count` connections from `endpoint`, each doing one ping-pong, and closes them.
func dial(_ endpoint: Endpoint, to listener: EndpointAddress, count: Int) async throws {
    for _ in 0..<count {
        let connection = try await endpoint.connect(to: listener, alpn: "echo/1")
        let (send, receive) = try await connection.openBidirectionalStream()
        try await send.write(Array("ping".utf8), finish: true)
        while try await receive.read() != nil {}
        connection.close()
        _ = await connection.closed
    }
}

let map = RemoteMap()
let listener = try await Endpoint.bind(
    host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"], hooks: [RemoteMapHook(map: map)])
print("listener: \(listener.address)")
let echoServer = serveEcho(on: listener)

// Alice runs on two sockets (two paths to the listener), Bob on one.
let alice = EndpointIdentity.generate()
let bob = EndpointIdentity.generate()
let aliceLaptop = try await Endpoint.bind(host: "127.0.0.1", identity: alice, alpns: [])
let alicePhone = try await Endpoint.bind(host: "127.0.0.1", identity: alice, alpns: [])
let bobDesk = try await Endpoint.bind(host: "127.0.0.1", identity: bob, alpns: [])
try await dial(aliceLaptop, to: listener.address, count: 2)
try await dial(alicePhone, to: listener.address, count: 1)
try await dial(bobDesk, to: listener.address, count: 3)

await map.settle()
let remotes = await map.remotes
for (id, summary) in remotes.sorted(by: { $0.value.connections > $1.value.connections }) {
    let name = id == alice.id ? "alice" : id == bob.id ? "bob" : "unknown"
    let paths = summary.paths.map(\.description).sorted().joined(separator: ", ")
    print(
        "remote \(name) \(id.shortDescription): connections \(summary.connections), "
            + "rtt min \(milliseconds(summary.minRTT)) max \(milliseconds(summary.maxRTT)), paths [\(paths)]"
    )
}
require(remotes[alice.id]?.connections == 3 && remotes[alice.id]?.paths.count == 2, "alice's summary is wrong")
require(remotes[bob.id]?.connections == 3 && remotes[bob.id]?.paths.count == 1, "bob's summary is wrong")

await aliceLaptop.close()
await alicePhone.close()
await bobDesk.close()
await listener.close()
await echoServer.value
print("hooks-remote-map: ok")

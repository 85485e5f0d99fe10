import ExampleSupport
import Ferry
import Foundation

// hooks-log: a hook that only observes. It logs every stage it sees on both sides (beforeConnect on the dialer,
// the incoming filter on the listener, afterHandshake on both) and each connection's path events until the
// connection closes. Nothing is rejected: an observer returns `.accept` everywhere (docs/hooks.md).

/// Prints one line per hook call and follows each connection's path events in a task.
struct LoggingHook: EndpointHooks {
    let name: String
    let followers: Followers

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        print("\(name): beforeConnect remote=\(remote.id.shortDescription) alpn=\(alpn)")
        return .accept
    }

    func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        print("\(name): incoming from=\(info.remoteAddress) to=\(info.localAddress) validated=\(info.isAddressValidated)")
        return .accept
    }

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        let paths = await connection.paths()
        print(
            "\(name): afterHandshake remote=\(connection.remoteID.shortDescription) alpn=\(connection.alpn) "
                + "side=\(connection.side) address=\(connection.remoteAddress) paths=\(paths.count)"
        )
        // Subscribe inside the hook so no event after acceptance is missed; the task ends with the connection.
        let events = connection.pathEvents()
        let name = self.name
        await followers.add(Task {
            for await event in events {
                print("\(name): path event \(describe(event))")
            }
            print("\(name): path events ended")
        })
        return .accept
    }
}

/// The path-event tasks, so the example can wait for every sequence to end.
actor Followers {
    private var tasks: [Task<Void, Never>] = []

    func add(_ task: Task<Void, Never>) { tasks.append(task) }

    func waitAll() async -> Int {
        for task in tasks { await task.value }
        return tasks.count
    }
}

func describe(_ event: PathEvent) -> String {
    switch event {
    case .opened(let path): "opened \(path.id) \(path.localAddress) -> \(path.remoteAddress)"
    case .selected(let path): "selected \(path.id)"
    case .closed(let id, let stats): "closed \(id) sent=\(stats.bytesSent)B received=\(stats.bytesReceived)B"
    case .lagged(let missed): "lagged, missed \(missed)"
    case .punchRoundEnded(let round): "punch round \(round.number): \(round.outcome)"
    }
}

let followers = Followers()
let listener = try await Endpoint.bind(
    host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"],
    hooks: [LoggingHook(name: "listener", followers: followers)])
let dialer = try await Endpoint.bind(
    host: "127.0.0.1", identity: .generate(), alpns: [],
    hooks: [LoggingHook(name: "dialer", followers: followers)])
print("listener: \(listener.address)")

let served = Task {
    guard let connection = try await listener.accept() else { return }
    let (send, receive) = try await connection.acceptBidirectionalStream()
    while let bytes = try await receive.read() { try await send.write(bytes) }
    try await send.finish()
    _ = await connection.closed
}

let connection = try await dialer.connect(to: listener.address, alpn: "echo/1")
let (send, receive) = try await connection.openBidirectionalStream()
try await send.write(Array("hello".utf8), finish: true)
var echoed: [UInt8] = []
while let bytes = try await receive.read() { echoed += bytes }
print("dialer: echoed \"\(String(decoding: echoed, as: UTF8.self))\"")
require(echoed == Array("hello".utf8), "wrong echo")

connection.close(code: 0, reason: "bye")
try await served.value
let followed = await followers.waitAll()
require(followed == 2, "expected path events on both sides, got \(followed)")

await dialer.close()
await listener.close()
print("hooks-log: ok")

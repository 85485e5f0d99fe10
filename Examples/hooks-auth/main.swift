import ExampleSupport
import Ferry
import Foundation

// hooks-auth: token pre-authentication done entirely in hooks, so the application protocol stays auth-free.
//
// - The listener serves two ALPNs: `auth/1` (a client sends a token, the listener answers "ok" or "denied") and
//   `echo/1` (echoes, knows nothing of auth).
// - Listener side, afterHandshake: `auth/1` is open to everyone; any other ALPN is accepted only from ids that
//   passed pre-auth, others are closed with code 401.
// - Dialer side, beforeConnect: a connection on any ALPN but `auth/1` waits until pre-auth with that listener has
//   finished; it proceeds if pre-auth succeeded and is refused locally (nothing sent) if it failed.
// Three dialers show the three outcomes: a good token, a wrong token, and no pre-auth at all.

let authALPN = "auth/1"
let echoALPN = "echo/1"
let secret = "let-me-in"

// MARK: Listener

/// The ids that presented the right token.
actor AuthenticatedIDs {
    private var ids: Set<EndpointID> = []

    func insert(_ id: EndpointID) { ids.insert(id) }
    func contains(_ id: EndpointID) -> Bool { ids.contains(id) }
}

/// Lets anyone run pre-auth; everything else needs a pre-authenticated id.
struct RequirePreAuth: EndpointHooks {
    let authenticated: AuthenticatedIDs

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        if connection.alpn == authALPN { return .accept }
        if await authenticated.contains(connection.remoteID) { return .accept }
        print("listener hook: \(connection.remoteID.shortDescription) is not authenticated, closing with 401")
        return .reject(code: 401, reason: "not authenticated")
    }
}

/// `auth/1`: one stream carrying the token; answers "ok" (and records the id) or "denied".
struct AuthHandler: ProtocolHandler {
    let authenticated: AuthenticatedIDs

    func accept(_ connection: Connection) async {
        guard let (send, receive) = try? await connection.acceptBidirectionalStream() else { return }
        var token: [UInt8] = []
        while let bytes = try? await receive.read() { token += bytes }
        let granted = token == Array(secret.utf8)
        if granted { await authenticated.insert(connection.remoteID) }
        print("listener auth/1: \(connection.remoteID.shortDescription) \(granted ? "authenticated" : "denied")")
        try? await send.write(Array((granted ? "ok" : "denied").utf8), finish: true)
        _ = await connection.closed
    }
}

/// `echo/1`: echoes each stream; it has no notion of tokens or ids.
struct EchoHandler: ProtocolHandler {
    func accept(_ connection: Connection) async {
        await echoStreams(of: connection)
    }
}

// MARK: Dialer

/// The dialer's pre-auth state per listener id: unknown, in progress (with waiters), or decided.
actor PreAuthState {
    private var results: [EndpointID: Bool] = [:]
    private var waiters: [EndpointID: [CheckedContinuation<Bool, Never>]] = [:]
    private var watchers: [CheckedContinuation<Void, Never>] = []

    /// Waits until pre-auth with `id` has an outcome.
    func outcome(for id: EndpointID) async -> Bool {
        if let result = results[id] { return result }
        return await withCheckedContinuation { continuation in
            waiters[id, default: []].append(continuation)
            for watcher in watchers { watcher.resume() }
            watchers.removeAll()
        }
    }

    /// Returns once some connection is waiting for pre-auth (so the example can show it being held).
    func someoneIsWaiting() async {
        if !waiters.isEmpty { return }
        await withCheckedContinuation { watchers.append($0) }
    }

    func record(_ granted: Bool, for id: EndpointID) {
        results[id] = granted
        for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: granted) }
    }
}

/// Holds back every outgoing connection except pre-auth until pre-auth with that listener succeeded.
struct WaitForPreAuth: EndpointHooks {
    let name: String
    let state: PreAuthState

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        if alpn == authALPN { return .accept }
        print("\(name) hook: \(alpn) to \(remote.id.shortDescription) waits for pre-auth")
        let granted = await state.outcome(for: remote.id)
        print("\(name) hook: pre-auth \(granted ? "succeeded, letting \(alpn) through" : "failed, refusing \(alpn)")")
        return granted ? .accept : .reject
    }
}

/// Runs `auth/1` with `token` and records the outcome for the hook.
func preAuthenticate(_ endpoint: Endpoint, to listener: EndpointAddress, token: String, state: PreAuthState) async throws {
    let connection = try await endpoint.connect(to: listener, alpn: authALPN)
    let (send, receive) = try await connection.openBidirectionalStream()
    try await send.write(Array(token.utf8), finish: true)
    var answer: [UInt8] = []
    while let bytes = try await receive.read() { answer += bytes }
    connection.close(code: 0, reason: "pre-auth done")
    await state.record(answer == Array("ok".utf8), for: listener.id)
}

/// One echo round trip.
func echo(_ connection: Connection, _ text: String) async throws -> String {
    let (send, receive) = try await connection.openBidirectionalStream()
    try await send.write(Array(text.utf8), finish: true)
    var answer: [UInt8] = []
    while let bytes = try await receive.read() { answer += bytes }
    return String(decoding: answer, as: UTF8.self)
}

let authenticated = AuthenticatedIDs()
let router = try await Router.bind(
    host: "127.0.0.1",
    identity: .generate(),
    handlers: [authALPN: AuthHandler(authenticated: authenticated), echoALPN: EchoHandler()],
    hooks: [RequirePreAuth(authenticated: authenticated)]
)
let listener = router.endpoint.address
print("listener: \(listener)")

// 1. Alice starts an echo connection first; her hook holds it until pre-auth succeeds.
let aliceState = PreAuthState()
let alice = try await Endpoint.bind(
    host: "127.0.0.1", identity: .generate(), alpns: [], hooks: [WaitForPreAuth(name: "alice", state: aliceState)])
let aliceEcho = Task { try await alice.connect(to: listener, alpn: echoALPN) }
await aliceState.someoneIsWaiting()
print("alice: echo connect is blocked; running pre-auth")
try await preAuthenticate(alice, to: listener, token: secret, state: aliceState)
let aliceConnection = try await aliceEcho.value
let aliceReply = try await echo(aliceConnection, "hello from alice")
print("alice: echo replied \"\(aliceReply)\"")
require(aliceReply == "hello from alice", "alice's echo failed")
aliceConnection.close()

// 2. Mallory has the wrong token: pre-auth is denied, so her hook refuses echo locally.
let malloryState = PreAuthState()
let mallory = try await Endpoint.bind(
    host: "127.0.0.1", identity: .generate(), alpns: [], hooks: [WaitForPreAuth(name: "mallory", state: malloryState)])
try await preAuthenticate(mallory, to: listener, token: "guess", state: malloryState)
do throws(ConnectionError) {
    _ = try await mallory.connect(to: listener, alpn: echoALPN)
    require(false, "mallory's echo connection should have been refused locally")
} catch {
    print("mallory: \(error)")
    guard case .locallyRejected(let rejection) = error else { require(false, "unexpected \(error)"); exit(1) }
    require(rejection.stage == .beforeConnect, "refused at the wrong stage")
}

// 3. Eve skips pre-auth (no hook): the listener's hook closes her echo connection with 401.
let eve = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
var eveReason: ConnectionCloseReason?
do {
    // Eve's handshake may finish before the listener's hook decides: the 401 then arrives as the close reason.
    let connection = try await eve.connect(to: listener, alpn: echoALPN)
    eveReason = await connection.closed
} catch {
    if case .closed(let reason) = error { eveReason = reason }
}
print("eve: connection closed: \(eveReason.map { "\($0)" } ?? "connect failed")")
require(eveReason == .applicationClosed(errorCode: 401, reason: "not authenticated", by: .peer), "eve was not refused")

await alice.close()
await mallory.close()
await eve.close()
await router.shutdown()
print("hooks-auth: ok")

import ExampleSupport
import Ferry
import Foundation
import Logging

// hooks-policy: a tour of Ferry's hooks (docs/hooks.md). One process runs a server Router with three hooks and
// lifecycle hooks, then dials it from a trusted and an untrusted client and prints what happened.

/// Admits only known endpoint ids, on both sides: before dialing and after the handshake proves the peer's id.
struct AllowList: EndpointHooks {
    let ids: Set<EndpointID>

    func beforeConnect(remote: EndpointAddress, alpn: String) async -> BeforeConnectOutcome {
        ids.contains(remote.id) ? .accept : .reject
    }

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        ids.contains(connection.remoteID) ? .accept : .reject(code: 0x403, reason: "not on the allow list")
    }
}

/// Refuses connection attempts from addresses outside a prefix, before the application sees them.
struct Firewall: EndpointHooks {
    let allowedHostPrefix: String

    func incoming(_ info: IncomingInfo) async -> IncomingOutcome {
        info.remoteAddress.host.hasPrefix(allowedHostPrefix) ? .accept : .reject
    }
}

/// Watches each accepted connection's paths from a weak handle, so monitoring never keeps a connection alive.
struct PathMonitor: EndpointHooks {
    let logger: Logger

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        let events = connection.pathEvents()
        let handle = connection.weakHandle()
        let logger = self.logger
        Task {
            for await event in events {
                switch event {
                case .lagged(let missed):
                    logger.warning("monitor fell behind", metadata: ["missed": "\(missed)"])
                case .closed(let path, let lastStats):
                    logger.info(
                        "path closed",
                        metadata: [
                            "peer": "\(handle.remoteID.shortDescription)", "path": "\(path)",
                            "rtt": "\(lastStats.rtt)", "bytesSent": "\(lastStats.bytesSent)",
                        ]
                    )
                default:
                    logger.info("path event", metadata: ["event": "\(event)"])
                }
            }
        }
        return .accept
    }
}

/// Answers each bidirectional stream with "hello, <peer id>".
struct Greeter: ProtocolHandler {
    func accept(_ connection: Connection) async {
        while let (send, receive) = try? await connection.acceptBidirectionalStream() {
            _ = try? await receive.read()
            try? await send.write(Array("hello, \(connection.remoteID.shortDescription)".utf8))
            try? await send.finish()
        }
    }

    func shutdown() async {
        print("greeter: shutting down")
    }
}

var logger = Logger(label: "hook-policy")
logger.logLevel = .info

let serverIdentity = EndpointIdentity.generate()
let trusted = EndpointIdentity.generate()
let stranger = EndpointIdentity.generate()

var lifecycle = LifecycleHooks(shutdownDeadline: .seconds(2))
lifecycle.onStart("announce") { print("lifecycle: starting") }
lifecycle.onShutdown("withdraw") { print("lifecycle: withdrawing") }

let router = try await Router.bind(
    host: "127.0.0.1",
    identity: serverIdentity,
    handlers: ["greet/1": Greeter()],
    hooks: HookChain(
        [Firewall(allowedHostPrefix: "127."), AllowList(ids: [trusted.id]), PathMonitor(logger: logger)],
        deadline: .seconds(2)
    ),
    lifecycle: lifecycle
)
print("server: \(router.endpoint.address)")

// The trusted client only dials ids it knows.
let trustedClient = try await Endpoint.bind(
    host: "127.0.0.1", identity: trusted, alpns: [], hooks: [AllowList(ids: [serverIdentity.id])])
let connection = try await trustedClient.connect(to: router.endpoint.address, alpn: "greet/1")
let (send, receive) = try await connection.openBidirectionalStream()
try await send.write([0])
try await send.finish()
var reply: [UInt8] = []
while let bytes = try await receive.read() { reply += bytes }
print("trusted client: \(String(decoding: reply, as: UTF8.self))")
connection.close()

// Dialing an unknown id is refused locally: nothing is sent.
do {
    let unknown = EndpointAddress(id: stranger.id, directAddresses: [router.endpoint.localAddress])
    _ = try await trustedClient.connect(to: unknown, alpn: "greet/1")
} catch {
    print("trusted client: \(error)")
}

// The stranger gets through TLS (ids are self-certifying) but the server's hook closes it with 0x403.
let strangerClient = try await Endpoint.bind(host: "127.0.0.1", identity: stranger, alpns: [])
let rejected = try await strangerClient.connect(to: router.endpoint.address, alpn: "greet/1")
let strangerReason = await rejected.closed
print("stranger: \(strangerReason)")

await trustedClient.close()
await strangerClient.close()
await router.shutdown()

require(
    strangerReason == .applicationClosed(errorCode: 0x403, reason: "not on the allow list", by: .peer),
    "the stranger was not refused with 0x403")
print("hooks-policy: ok")

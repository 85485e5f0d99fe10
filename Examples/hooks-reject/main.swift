import ExampleSupport
import Ferry
import Foundation

// hooks-reject: a listener whose afterHandshake hook refuses everyone with application error code 403. The TLS
// handshake completes (ids are self-certifying), then the hook closes the connection and the dialer sees the
// hook's code and reason in CONNECTION_CLOSE (RFC 9000 §19.19). The listener's application never sees the
// connection, and the stream data the dialer sent before the verdict is never delivered.

/// Refuses every authenticated connection.
struct RejectAll: EndpointHooks {
    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        print("listener: rejecting \(connection.remoteID.shortDescription) (alpn \(connection.alpn)) with 403")
        return .reject(code: 403, reason: "forbidden")
    }
}

let listener = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"], hooks: [RejectAll()])
let dialer = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
print("listener: \(listener.address)")

// Counts what the listener's application is handed; the rejected connection must never appear.
let accepted = Task {
    var count = 0
    for await connection in listener.incomingConnections {
        print("listener: application got \(connection.remoteID.shortDescription)")
        count += 1
    }
    return count
}

/// Dials and returns how the connection ended: the dialer's handshake may finish before the listener's hook
/// decides, so connect can succeed and the rejection then arrives as the connection's close reason.
func dialAndAwaitClose(_ dialer: Endpoint, _ listener: EndpointAddress) async -> ConnectionCloseReason? {
    do {
        let connection = try await dialer.connect(to: listener, alpn: "echo/1")
        if let send = try? await connection.openUnidirectionalStream() {
            try? await send.write(Array("never delivered".utf8), finish: true)
        }
        return await connection.closed
    } catch {
        if case .closed(let reason) = error { return reason }
        print("dialer: connect failed: \(error)")
        return nil
    }
}

guard let reason = await dialAndAwaitClose(dialer, listener.address) else { exit(1) }
print("dialer: connection closed: \(reason)")
guard case .applicationClosed(let code, let text, by: .peer) = reason else {
    require(false, "expected an application close from the peer, got \(reason)")
    exit(1)
}
print("dialer: peer refused with code \(code) (\"\(text)\")")
require(code == 403 && text == "forbidden", "wrong code or reason")

await dialer.close()
await listener.close()
let handedOut = await accepted.value
print("listener: application saw \(handedOut) connections")
require(handedOut == 0, "the rejected connection reached the application")
print("hooks-reject: ok")

import Ferry

/// Admits only the listed peers, after TLS has proven their ids; an empty list admits everyone.
struct AllowList: EndpointHooks {
    let ids: Set<EndpointID>

    func afterHandshake(_ connection: HookConnection) async -> AfterHandshakeOutcome {
        ids.isEmpty || ids.contains(connection.remoteID) ? .accept : .reject(code: 0x403, reason: "not allowed")
    }
}

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 7777
let endpoint = try await Endpoint.bind(
    host: "127.0.0.1", port: port, identity: .generate(),
    alpns: ["ferry/tcp/echo"],  // what `ferry connect ID@127.0.0.1:7777 echo` asks for
    hooks: [AllowList(ids: [])]
)
print("listening \(endpoint.address)")

for await connection in endpoint.incomingConnections {
    Task {  // echo every stream the peer opens until the peer finishes it
        while let (send, receive) = try? await connection.acceptBidirectionalStream() {
            while let bytes = try? await receive.read() { try? await send.write(bytes) }
            try? await send.finish()
        }
    }
}

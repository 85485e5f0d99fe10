import Ferry
import FerryCrypto
import FerryDaemon
import FerryRelay
import Foundation
import XCTest

/// Fails the test instead of hanging when `body` does not finish within `seconds`.
func withTimeout<T: Sendable>(
    _ seconds: Double,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            XCTFail("timed out after \(seconds) s", file: file, line: line)
            throw RelayTestTimeout()
        }
        return value
    }
}

struct RelayTestTimeout: Error {}

/// A relay on 127.0.0.1 (UDP and TCP on one free port) in a temporary directory, with extra `[relay]` lines.
func startRelay(extra: [String] = [], mesh: [RelayAddress] = [], keyFile: String? = nil, port: UInt16 = 0) async throws -> RelayServer {
    let directory = NSTemporaryDirectory() + "ferry-relay-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var lines = [
        "[relay]",
        "key_file = \"\(keyFile ?? directory + "/relay.key")\"",
        "listen = [\"127.0.0.1:\(port)\"]",
    ]
    if !mesh.isEmpty { lines.append("mesh = [" + mesh.map { "\"\($0)\"" }.joined(separator: ", ") + "]") }
    lines += extra
    lines += ["[control]", "enabled = false", "[logging]", "level = \"warning\""]
    let config = try RelayConfig.parse(lines.joined(separator: "\n"), file: "relay.toml", directory: directory)
    return try await RelayServer.start(config: config)
}

/// An endpoint on 127.0.0.1 homed on `relays`, accepting `alpns`. Relay-only by default: on loopback every
/// relayed connection could otherwise punch its way to a direct path at once, and these tests are about the relay.
func relayedEndpoint(
    relays: [RelayAddress], alpns: [String] = [], token: String = "", identity: EndpointIdentity = .generate(),
    pathMode: PathMode = .relayOnly, hooks: HookChain = HookChain()
) async throws -> Endpoint {
    var configuration = EndpointConfiguration(relays: relays, pathMode: pathMode, relayToken: token)
    configuration.relayTCPFallbackDelay = .seconds(2)
    return try await Endpoint.bind(
        host: "127.0.0.1", identity: identity, alpns: alpns, configuration: configuration, hooks: hooks)
}

/// Accepts connections and echoes every bidirectional stream until the endpoint closes.
func serveEcho(_ endpoint: Endpoint) -> Task<Void, Never> {
    Task {
        await withDiscardingTaskGroup { group in
            for await connection in endpoint.incomingConnections {
                group.addTask {
                    while let (send, receive) = try? await connection.acceptBidirectionalStream() {
                        while case .some(.some(let bytes)) = try? await receive.read() {
                            try? await send.write(bytes)
                        }
                        try? await send.finish()
                    }
                }
            }
        }
    }
}

/// Sends `payload` on a new stream, finishes, and reads the echo to its end.
func echo(_ payload: [UInt8], over connection: Connection) async throws -> [UInt8] {
    let (send, receive) = try await connection.openBidirectionalStream()
    async let reply = receive.readToEnd(limit: payload.count + 1)
    try await send.write(payload, finish: true)
    return try await reply
}

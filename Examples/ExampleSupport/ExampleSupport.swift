import Ferry
import Foundation

// What the runnable examples share, so each `main.swift` shows only its hooks. Not part of Ferry's API.

/// The running example's name (its executable's), the prefix of its `FAILED:` line.
public let exampleName = URL(fileURLWithPath: CommandLine.arguments.first ?? "example").lastPathComponent

/// Ends the example with `<name>: FAILED: <message>` and exit status 1 unless `condition` holds; Scripts/test
/// checks the status and the final `<name>: ok` line.
public func require(_ condition: Bool, _ message: String) {
    if !condition {
        print("\(exampleName): FAILED: \(message)")
        exit(1)
    }
}

/// `duration` in milliseconds with three decimals, or "-" when there is none.
public func milliseconds(_ duration: Duration?) -> String {
    guard let duration else { return "-" }
    let (seconds, attoseconds) = duration.components
    return String(format: "%.3fms", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
}

/// Echoes every bidirectional stream the peer opens on `connection` until the connection ends.
public func echoStreams(of connection: Connection) async {
    while let (send, receive) = try? await connection.acceptBidirectionalStream() {
        while let bytes = try? await receive.read() { try? await send.write(bytes) }
        try? await send.finish()
    }
}

/// Serves `echoStreams(of:)` on every connection `listener` accepts, until the listener closes.
public func serveEcho(on listener: Endpoint) -> Task<Void, Never> {
    Task {
        await withDiscardingTaskGroup { group in
            for await connection in listener.incomingConnections {
                group.addTask { await echoStreams(of: connection) }
            }
        }
    }
}

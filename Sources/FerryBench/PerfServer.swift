import Ferry
import Logging

/// The perf and echo server (shared/perf-protocol.md): ALPN `perf` answers requests, `echo/1` echoes streams.
struct PerfServer {
    static let alpns = ["perf", "echo/1"]

    let endpoint: Endpoint
    let logger: Logger
    /// `--details`: print a `connection` line (ConnectionDetails) after each answered request.
    var details = false

    /// Accepts connections until the endpoint closes.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await connection in endpoint.incomingConnections {
                logger.debug(
                    "connected",
                    metadata: [
                        "client": "\(connection.remoteID)", "alpn": "\(connection.alpn)",
                        "address": "\(connection.remoteAddress)",
                    ]
                )
                group.addTask { await serve(connection) }
            }
        }
    }

    private func serve(_ connection: Connection) async {
        let echo = connection.alpn == "echo/1"
        let answered = details ? AnsweredRequests() : nil
        await withDiscardingTaskGroup { group in
            while true {
                let send: SendStream
                let receive: ReceiveStream
                do {
                    (send, receive) = try await connection.acceptBidirectionalStream()
                } catch {
                    logger.debug("closed", metadata: ["client": "\(connection.remoteID)", "reason": "\(error)"])
                    return
                }
                group.addTask {
                    do {
                        if echo {
                            try await Self.echo(send: send, receive: receive)
                        } else {
                            try await Self.answer(send: send, receive: receive)
                        }
                        if let answered {
                            // Snapshot while the connection is open: its counters go when it closes.
                            let count = await answered.increment()
                            let snapshot = await ConnectionDetails.snapshot(of: connection)
                            printLine(snapshot.serverLine(
                                remoteID: connection.remoteID, firstRemote: connection.remoteAddress, requests: count))
                        }
                    } catch {
                        logger.debug("stream failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }

    /// One perf request: read N and the upload (checking it), then send N pattern bytes and FIN.
    nonisolated(nonsending) static func answer(send: SendStream, receive: ReceiveStream) async throws(StreamError) {
        var header: [UInt8] = []
        var checker = PatternChecker()
        while header.count < 8 {
            guard let chunk = try await receive.read(maxLength: 1 << 20) else {
                // The stream ended inside the header: nothing sensible to answer.
                send.reset(code: 1)
                return
            }
            let needed = 8 - header.count
            if chunk.count <= needed {
                header += chunk
            } else {
                header += chunk[0..<needed]
                chunk.withUnsafeBytes { checker.feed(UnsafeRawBufferPointer(rebasing: $0[needed...])) }
            }
        }
        let requested = header.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        while let chunk = try await receive.read(maxLength: 1 << 20) {
            checker.feed(chunk)
        }
        if checker.mismatches > 0 {
            printError("upload pattern mismatch: \(checker.mismatches) of \(checker.offset) bytes wrong; resetting stream")
            send.reset(code: 1)
            return
        }
        try await PerfClient.sendPattern(send, prefix: [], count: requested, finish: true)
    }

    /// `echo/1`: send every byte back, then FIN.
    nonisolated(nonsending) static func echo(send: SendStream, receive: ReceiveStream) async throws(StreamError) {
        while let chunk = try await receive.read(maxLength: 1 << 20) {
            try await send.write(chunk)
        }
        try await send.finish()
    }
}

/// Requests answered on one connection, for the `--details` line.
actor AnsweredRequests {
    private var count = 0

    func increment() -> Int {
        count += 1
        return count
    }
}

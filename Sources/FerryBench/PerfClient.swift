import Ferry
import Foundation

/// Totals one perf worker (or a whole run) produced.
struct PerfTally: Sendable {
    var requests: UInt64 = 0
    var bytesDown: UInt64 = 0
    var bytesUp: UInt64 = 0
    var errors: UInt64 = 0

    static func + (lhs: PerfTally, rhs: PerfTally) -> PerfTally {
        PerfTally(
            requests: lhs.requests + rhs.requests,
            bytesDown: lhs.bytesDown + rhs.bytesDown,
            bytesUp: lhs.bytesUp + rhs.bytesUp,
            errors: lhs.errors + rhs.errors
        )
    }
}

/// Why one perf request failed on the client.
enum PerfRequestError: Error, CustomStringConvertible {
    case connection(ConnectionError)
    case stream(StreamError)
    case mismatch(bytes: UInt64)
    case shortResponse(received: UInt64, expected: UInt64)

    var description: String {
        switch self {
        case .connection(let error): "\(error)"
        case .stream(let error): "\(error)"
        case .mismatch(let bytes): "download pattern mismatch: \(bytes) bytes wrong"
        case .shortResponse(let received, let expected): "short response: \(received) of \(expected) bytes"
        }
    }
}

/// The perf client (shared/perf-protocol.md): C connections × N streams issuing requests, like quinn-perf.
struct PerfClient {
    let endpoint: Endpoint
    let target: EndpointAddress
    let download: UInt64
    let upload: UInt64
    let streams: Int
    let requests: UInt64
    let connections: Int
    let duration: Double?
    var verbose = false
    /// `--details`: add the connections' cipher suite and key update counts to the JSON line.
    var details = false
    /// `--rebind-after-bytes`: the one-time move to a new local port, fed by every received chunk.
    var migration: PerfMigration?

    /// The JSON line quinn-perf prints, with the same fields and number formats.
    struct Report {
        var connections: Int
        var tally: PerfTally
        var seconds: Double
        /// Extra `"key":value` fields (`--details`, `--rebind-after-bytes`), appended to quinn-perf's shape.
        var extraFields: [String] = []

        var json: String {
            let mebibyte = Double(1 << 20)
            let seconds = max(self.seconds, 1e-9)
            return "{\"connections\":\(connections),\"requests\":\(tally.requests),\"bytes_down\":\(tally.bytesDown),"
                + "\"bytes_up\":\(tally.bytesUp),\"seconds\":\(format(self.seconds, 4)),"
                + "\"download_mib_s\":\(format(Double(tally.bytesDown) / mebibyte / seconds, 2)),"
                + "\"upload_mib_s\":\(format(Double(tally.bytesUp) / mebibyte / seconds, 2)),"
                + "\"requests_per_s\":\(format(Double(tally.requests) / seconds, 1)),\"errors\":\(tally.errors)"
                + extraFields.map { "," + $0 }.joined() + "}"
        }
    }

    func run() async -> Report {
        // Connect everything first; the clock starts once all connections are up (as in quinn-perf).
        var established: [Connection] = []
        var connectErrors: UInt64 = 0
        await withTaskGroup(of: Result<Connection, ConnectionError>.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    do throws(ConnectionError) {
                        return .success(try await endpoint.connect(to: target, alpn: "perf"))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            for await result in group {
                switch result {
                case .success(let connection): established.append(connection)
                case .failure(let error):
                    printError("connect failed: \(error)")
                    connectErrors += 1
                }
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        // -v: path events on stderr (migration, validation, fallback; RFC 9000 §9), for reading a failed case.
        let pathLoggers = verbose ? established.map { connection in
            Task {
                for await event in await connection.pathEvents() {
                    printError("path event after \(start.duration(to: clock.now)): \(event)")
                }
            }
        } : []
        defer { pathLoggers.forEach { $0.cancel() } }
        let deadline = duration.map { start + .milliseconds(Int64($0 * 1000)) }
        var tally = PerfTally(errors: connectErrors)
        let workers = max(1, streams)
        await withTaskGroup(of: PerfTally.self) { group in
            for connection in established {
                for worker in 0..<workers {
                    // Requests are split statically across the connection's workers (R / N each, remainder to the
                    // first ones); with --duration each worker runs until the deadline.
                    let share = requests / UInt64(workers) + (UInt64(worker) < requests % UInt64(workers) ? 1 : 0)
                    group.addTask {
                        await runWorker(connection: connection, share: share, deadline: deadline, clock: clock)
                    }
                }
            }
            for await workerTally in group {
                tally = tally + workerTally
            }
        }
        let elapsed = start.duration(to: clock.now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var extraFields: [String] = []
        if details {
            var all: [ConnectionDetails] = []
            for connection in established { all.append(await ConnectionDetails.snapshot(of: connection)) }
            extraFields.append(ConnectionDetails.jsonFields(all))
        }
        if let migration {
            extraFields.append(await migration.jsonFields)
            if await migration.failure != nil { tally.errors += 1 }
        }
        for connection in established {
            if verbose {
                let stats = await connection.stats
                printError(
                    "stats: rtt=\(stats.smoothedRTT) cwnd=\(stats.congestionWindow) sent=\(stats.packetsSent) "
                        + "received=\(stats.packetsReceived) lost=\(stats.packetsLost) dropped=\(stats.packetsDropped) "
                        + "mtu=\(stats.pathMTU)"
                )
            }
            connection.close(code: 0, reason: "done")
        }
        return Report(connections: established.count, tally: tally, seconds: seconds, extraFields: extraFields)
    }

    nonisolated(nonsending) private func runWorker(
        connection: Connection,
        share: UInt64,
        deadline: ContinuousClock.Instant?,
        clock: ContinuousClock
    ) async -> PerfTally {
        var tally = PerfTally()
        var issued: UInt64 = 0
        while true {
            if let deadline {
                guard clock.now < deadline else { break }
            } else {
                guard issued < share else { break }
            }
            issued += 1
            do {
                let received = try await Self.request(
                    connection: connection, download: download, upload: upload, migration: migration)
                tally.requests += 1
                tally.bytesDown += received
                tally.bytesUp += upload
            } catch {
                printError("request failed: \(error)")
                tally.errors += 1
                if await connection.closeReason != nil { break }
            }
        }
        return tally
    }

    /// One perf request on a new stream; returns the bytes received after checking every one of them.
    nonisolated(nonsending) static func request(
        connection: Connection, download: UInt64, upload: UInt64, migration: PerfMigration? = nil
    ) async throws(PerfRequestError) -> UInt64 {
        let send: SendStream
        let receive: ReceiveStream
        do {
            (send, receive) = try await connection.openBidirectionalStream()
        } catch {
            throw .connection(error)
        }
        let header = withUnsafeBytes(of: download.bigEndian) { Array($0) }
        let sender: Task<Void, any Error>?
        if upload <= UInt64(PerfPattern.chunkSize) {
            // Small uploads fit the stream's send buffer at once: no concurrent sender needed.
            sender = nil
            do {
                try await sendPattern(send, prefix: header, count: upload, finish: true)
            } catch {
                throw .stream(error)
            }
        } else {
            sender = Task { try await sendPattern(send, prefix: header, count: upload, finish: true) }
        }
        var checker = PatternChecker()
        do {
            while let chunk = try await receive.read(maxLength: 1 << 20) {
                checker.feed(chunk)
                await migration?.onReceived(chunk.count)
            }
        } catch {
            sender?.cancel()
            throw .stream(error)
        }
        do {
            try await sender?.value
        } catch let error as StreamError {
            throw .stream(error)
        } catch {
            throw .stream(.cancelled)
        }
        if checker.mismatches > 0 { throw .mismatch(bytes: checker.mismatches) }
        if checker.offset != download { throw .shortResponse(received: checker.offset, expected: download) }
        return checker.offset
    }

    /// Writes `prefix` then `count` pattern bytes, reusing the shared chunk so large sends do not copy.
    /// With `finish`, the last write also sends FIN (one event-loop hop fewer per request).
    nonisolated(nonsending) static func sendPattern(_ send: SendStream, prefix: [UInt8], count: UInt64, finish: Bool) async throws(StreamError) {
        let first = Int(min(count, UInt64(PerfPattern.chunkSize)))
        var remaining = count - UInt64(first)
        if !prefix.isEmpty || first > 0 || finish {
            try await send.write(PerfPattern.firstChunk(prefix: prefix, count: first), finish: finish && remaining == 0)
        }
        // `first` is all of it or a whole chunk (a multiple of the period), so the phase stays 0.
        while remaining > 0 {
            let length = Int(min(remaining, UInt64(PerfPattern.chunkSize)))
            remaining -= UInt64(length)
            let bytes = length == PerfPattern.chunkSize ? PerfPattern.chunk : Array(PerfPattern.chunk[0..<length])
            try await send.write(bytes, finish: finish && remaining == 0)
        }
    }
}

/// `value` with exactly `digits` decimals, like Rust's `{:.N}`.
func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

/// Writes a line to standard output at once (unbuffered, so a reading script sees it immediately).
func printLine(_ message: String) {
    FileHandle.standardOutput.write(Data((message + "\n").utf8))
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

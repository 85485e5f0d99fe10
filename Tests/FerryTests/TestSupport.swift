import Ferry
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
            throw TimeoutError()
        }
        return value
    }
}

struct TimeoutError: Error {}

/// The perf payload pattern: byte k is k % 251 (shared/perf-protocol.md).
enum Pattern {
    static let period = 251
    static let chunkSize = period * 1024
    static let chunk: [UInt8] = (0..<chunkSize).map { UInt8($0 % period) }

    /// Writes `count` pattern bytes after `prefix`.
    static func write(_ send: SendStream, prefix: [UInt8] = [], count: UInt64) async throws {
        var remaining = count
        var first = true
        while remaining > 0 || (first && !prefix.isEmpty) {
            let length = Int(min(remaining, UInt64(chunkSize)))
            if first {
                try await send.write(prefix + chunk[0..<length])
                first = false
            } else {
                try await send.write(length == chunkSize ? chunk : Array(chunk[0..<length]))
            }
            remaining -= UInt64(length)
        }
    }

    /// Reads a stream to its end; returns (bytes, mismatches) checking every byte against the pattern.
    static func readAndCheck(_ receive: ReceiveStream, skip: Int = 0) async throws -> (
        count: UInt64, mismatches: UInt64, header: [UInt8]
    ) {
        var offset: UInt64 = 0
        var mismatches: UInt64 = 0
        var header: [UInt8] = []
        while let bytes = try await receive.read(maxLength: 1 << 20) {
            var start = 0
            if header.count < skip {
                let take = min(skip - header.count, bytes.count)
                header += bytes[0..<take]
                start = take
            }
            var index = start
            while index < bytes.count {
                if bytes[index] != UInt8(truncatingIfNeeded: offset % UInt64(period)) { mismatches += 1 }
                offset += 1
                index += 1
            }
        }
        return (offset, mismatches, header)
    }
}

/// A test server speaking perf (ALPN `perf`) and echo (`echo/1`) on 127.0.0.1.
final class TestServer: Sendable {
    let endpoint: Endpoint
    let acceptTask: Task<Void, Never>
    /// Every connection the server accepted, in order (the server keeps serving them).
    let accepted: AsyncStream<Connection>

    init(configuration: EndpointConfiguration = EndpointConfiguration()) async throws {
        let endpoint = try await Endpoint.bind(
            host: "127.0.0.1",
            identity: .generate(),
            alpns: ["perf", "echo/1"],
            configuration: configuration
        )
        self.endpoint = endpoint
        let (accepted, continuation) = AsyncStream.makeStream(of: Connection.self)
        self.accepted = accepted
        acceptTask = Task {
            await withDiscardingTaskGroup { group in
                for await connection in endpoint.incomingConnections {
                    continuation.yield(connection)
                    group.addTask { await TestServer.serve(connection) }
                }
            }
            continuation.finish()
        }
    }

    static func serve(_ connection: Connection) async {
        await withDiscardingTaskGroup { group in
            while let (send, receive) = try? await connection.acceptBidirectionalStream() {
                group.addTask {
                    do {
                        if connection.alpn == "echo/1" {
                            while let bytes = try await receive.read() { try await send.write(bytes) }
                            try await send.finish()
                        } else {
                            let (_, mismatches, header) = try await Pattern.readAndCheck(receive, skip: 8)
                            guard mismatches == 0, header.count == 8 else { return send.reset(code: 1) }
                            let requested = header.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                            try await Pattern.write(send, count: requested)
                            try await send.finish()
                        }
                    } catch {}
                }
            }
        }
    }

    /// The next connection the server accepted.
    func nextAccepted() async -> Connection? {
        var iterator = accepted.makeAsyncIterator()
        return await iterator.next()
    }

    func close() async {
        await endpoint.close()
        acceptTask.cancel()
        await acceptTask.value
    }
}

/// Runs `body`, then always closes `endpoints` and `servers` (even when `body` throws), then rethrows.
func closing(
    _ endpoints: [Endpoint],
    servers: [TestServer] = [],
    _ body: () async throws -> Void
) async throws {
    var failure: (any Error)?
    do {
        try await body()
    } catch {
        failure = error
    }
    for endpoint in endpoints { await endpoint.close() }
    for server in servers { await server.close() }
    if let failure { throw failure }
}

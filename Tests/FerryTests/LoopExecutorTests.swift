import XCTest

@testable import Ferry

/// Stream traffic from tasks that prefer the endpoint's event loop (`Endpoint.taskExecutor`): commands then run
/// inline on the loop (LoopBridge.swift), and must behave exactly as from the global executor.
final class LoopExecutorTests: XCTestCase {
    func testTasksPreferringTheLoopRunOnItAndExchangeRequests() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(30) {
                try await withTaskExecutorPreference(client.taskExecutor) {
                    XCTAssertTrue(client.core.driver.eventLoop.inEventLoop, "the task should run on the loop")
                    let connection = try await client.connect(to: server.endpoint.address, alpn: "echo/1")
                    // More requests than the server's stream limit lets in at once, all in flight together.
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<300 {
                            group.addTask {
                                XCTAssertTrue(client.core.driver.eventLoop.inEventLoop, "child tasks inherit it")
                                let (send, receive) = try await connection.openBidirectionalStream()
                                let message = Array("request \(index)".utf8)
                                try await send.write(message, finish: true)
                                let echoed = try await receive.readToEnd(limit: 1000)
                                XCTAssertEqual(echoed, message)
                            }
                        }
                        try await group.waitForAll()
                    }
                    connection.close(code: 3, reason: "done")
                    let reason = await connection.closed
                    XCTAssertEqual(reason, .applicationClosed(errorCode: 3, reason: "done", by: .local))
                }
            }
        }
    }

    func testServerOnTheLoopAnswersAndCancellationStillWorks() async throws {
        let server = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: ["echo/1"])
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        // The serving side runs entirely on its endpoint's loop.
        let serving = Task(executorPreference: server.taskExecutor) {
            guard let connection = await server.incomingConnections.first(where: { _ in true }) else { return }
            while let (send, receive) = try? await connection.acceptBidirectionalStream() {
                while let bytes = try await receive.read() { try await send.write(bytes) }
                try await send.finish()
            }
        }
        try await closing([client, server]) {
            try await withTimeout(30) {
                let connection = try await client.connect(to: server.address, alpn: "echo/1")
                for round in 0..<20 {
                    let (send, receive) = try await connection.openBidirectionalStream()
                    let message = [UInt8](repeating: UInt8(round), count: 3000)
                    try await send.write(message, finish: true)
                    let echoed = try await receive.readToEnd(limit: 10_000)
                    XCTAssertEqual(echoed, message)
                }
                // A read on the client's loop, cancelled from outside, fails with `.cancelled` (the stream never
                // ends, so that is the only way out of the loop).
                let (send, receive) = try await connection.openBidirectionalStream()
                try await send.write([1, 2, 3])
                let reader = Task(executorPreference: client.taskExecutor) {
                    var total = 0
                    while let bytes = try await receive.read() { total += bytes.count }
                    return total
                }
                reader.cancel()
                do {
                    _ = try await reader.value
                    XCTFail("a cancelled read must throw")
                } catch {
                    XCTAssertEqual(error as? StreamError, .cancelled)
                }
            }
        }
        serving.cancel()
        _ = await serving.result
    }
}

import Ferry
import XCTest

/// Two real endpoints on 127.0.0.1: real UDP, real TLS (OpenSSL), real transport.
final class EndToEndTests: XCTestCase {
    /// Bulk transfer size: 256 MiB in release builds (the lead runs `swift test -c release`); debug Swift is far
    /// too slow at byte checking for that, so debug runs move 16 MiB through the same code.
    #if DEBUG
        static let bulkBytes: UInt64 = 16 << 20
    #else
        static let bulkBytes: UInt64 = 256 << 20
    #endif

    func testEchoAndIdentities() async throws {
        let server = try await TestServer()
        let clientIdentity = EndpointIdentity.generate()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: clientIdentity, alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(20) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "echo/1")
                XCTAssertEqual(connection.remoteID, server.endpoint.id)
                XCTAssertEqual(connection.alpn, "echo/1")
                XCTAssertEqual(connection.side, .client)

                let (send, receive) = try await connection.openBidirectionalStream()
                let message = Array("hello, ferry".utf8)
                try await send.write(message)
                try await send.finish()
                var echoed: [UInt8] = []
                while let bytes = try await receive.read() { echoed += bytes }
                XCTAssertEqual(echoed, message)

                // The server learns the client's id from its certificate (mutual TLS).
                let accepted = await server.nextAccepted()
                XCTAssertEqual(accepted?.remoteID, clientIdentity.id)
                XCTAssertEqual(accepted?.side, .server)
                XCTAssertEqual(accepted?.alpn, "echo/1")
                connection.close(code: 7, reason: "bye")
                let reason = await connection.closed
                XCTAssertEqual(reason, .applicationClosed(errorCode: 7, reason: "bye", by: .local))
            }
        }
    }

    func testWrongIDFailsWithTLSErrorAndNoConnectionIsHandedOut() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let goodIdentity = EndpointIdentity.generate()
        let goodClient = try await Endpoint.bind(host: "127.0.0.1", identity: goodIdentity, alpns: [])
        try await closing([client, goodClient], servers: [server]) {
            try await withTimeout(20) {
                let impostor = EndpointAddress(
                    id: EndpointIdentity.generate().id, directAddresses: [server.endpoint.localAddress])
                do throws(ConnectionError) {
                    _ = try await client.connect(to: impostor, alpn: "perf")
                    XCTFail("connecting to the wrong id must fail")
                } catch {
                    XCTAssertTrue(error.isTLSFailure, "expected a TLS failure, got \(error)")
                }
                // Had the failed handshake produced a server-side Connection, it would be accepted first.
                let good = try await goodClient.connect(to: server.endpoint.address, alpn: "perf")
                let accepted = await server.nextAccepted()
                XCTAssertEqual(accepted?.remoteID, goodIdentity.id)
                good.close()
            }
        }
    }

    func testUnknownALPNIsRefused() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(20) {
                do throws(ConnectionError) {
                    _ = try await client.connect(to: server.endpoint.address, alpn: "nope")
                    XCTFail("an ALPN the server does not accept must fail the handshake")
                } catch {
                    XCTAssertTrue(error.isTLSFailure, "expected a TLS failure, got \(error)")
                }
            }
        }
    }

    func testPeerResetCodeReachesTheReader() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(20) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "perf")
                let (send, receive) = try await connection.openBidirectionalStream()
                // A wrong upload byte makes the perf server reset its side with code 1 (perf-protocol.md).
                let header = withUnsafeBytes(of: UInt64(100).bigEndian) { Array($0) }
                try await send.write(header + [0, 1, 2, 99], finish: true)
                do throws(StreamError) {
                    while try await receive.read() != nil {}
                    XCTFail("the server must reset the stream")
                } catch {
                    XCTAssertEqual(error, .reset(errorCode: 1))
                }
            }
        }
    }

    func testDatagramsBothWays() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(20) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "perf")
                guard let accepted = await server.nextAccepted() else { return XCTFail("no accepted connection") }
                try await connection.sendDatagram(Array("ping".utf8))
                let ping = try await accepted.receiveDatagram()
                XCTAssertEqual(ping, Array("ping".utf8))
                try await accepted.sendDatagram(Array("pong".utf8))
                let pong = try await connection.receiveDatagram()
                XCTAssertEqual(pong, Array("pong".utf8))
            }
        }
    }

    func testBulkDownloadCheckedByteForByte() async throws {
        try await runPerf(download: Self.bulkBytes, upload: 0)
    }

    func testBulkUploadCheckedByteForByte() async throws {
        try await runPerf(download: 0, upload: Self.bulkBytes)
    }

    func testManyConcurrentRequests() async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(60) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "perf")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<64 {
                        group.addTask {
                            let size = UInt64(index * 1000 + 1)
                            try await Self.request(connection, download: size, upload: size)
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    func testEndpointCloseIsBoundedAndPeersSeeIt() async throws {
        var configuration = EndpointConfiguration()
        configuration.closeTimeout = .seconds(1)
        let server = try await TestServer(configuration: configuration)
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        let connection: Connection
        do {
            connection = try await withTimeout(20) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "perf")
                // One request confirms the handshake (RFC 9001 §4.1.2), so the close travels as an application
                // CONNECTION_CLOSE rather than the pre-confirmation transport form (RFC 9000 §10.2.3).
                try await Self.request(connection, download: 10, upload: 10)
                return connection
            }
        } catch {
            await client.close()
            await server.close()
            throw error
        }
        let clock = ContinuousClock()
        let started = clock.now
        await server.close()
        XCTAssertLessThan(started.duration(to: clock.now), .seconds(3))
        let reason = try await withTimeout(20) { await connection.closed }
        XCTAssertEqual(reason, .applicationClosed(errorCode: 0, reason: "endpoint closed", by: .peer))
        // Closing an endpoint whose peer is gone is bounded by closeTimeout too.
        let clientStarted = clock.now
        await client.close()
        XCTAssertLessThan(clientStarted.duration(to: clock.now), .seconds(5))
        do {
            _ = try await connection.openBidirectionalStream()
            XCTFail("streams cannot be opened on a closed connection")
        } catch {}
    }

    // MARK: Helpers

    private func runPerf(download: UInt64, upload: UInt64) async throws {
        let server = try await TestServer()
        let client = try await Endpoint.bind(host: "127.0.0.1", identity: .generate(), alpns: [])
        try await closing([client], servers: [server]) {
            try await withTimeout(300) {
                let connection = try await client.connect(to: server.endpoint.address, alpn: "perf")
                try await Self.request(connection, download: download, upload: upload)
                connection.close()
            }
        }
    }

    private static func request(_ connection: Connection, download: UInt64, upload: UInt64)
        async throws
    {
        let (send, receive) = try await connection.openBidirectionalStream()
        let header = withUnsafeBytes(of: download.bigEndian) { Array($0) }
        async let sent: Void = {
            try await Pattern.write(send, prefix: header, count: upload)
            try await send.finish()
        }()
        let (count, mismatches, _) = try await Pattern.readAndCheck(receive)
        try await sent
        XCTAssertEqual(count, download)
        XCTAssertEqual(mismatches, 0)
    }
}

import Logging
import NIOCore
import NIOPosix

/// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers the text exposition format, anything
/// else 404 or 405, and every response closes the connection.
///
/// A full HTTP stack is not needed for one idempotent GET from a scraper; keeping the parser to the request line
/// keeps the attack surface small (header bytes are capped at 8 KiB).
package final class MetricsServer: Sendable {
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let render: @Sendable () -> String

    private init(server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, render: @escaping @Sendable () -> String) {
        self.server = server
        self.render = render
    }

    /// Binds the listener.
    package static func bind(host: String, port: Int, group: any EventLoopGroup, render: @escaping @Sendable () -> String) async throws -> MetricsServer {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return MetricsServer(server: server, render: render)
    }

    /// The bound port.
    package var port: Int? { server.channel.localAddress?.port }

    /// Serves until `close()`.
    package func run() async {
        try? await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await client in inbound {
                    group.addTask { await self.serve(client) }
                }
            }
        }
    }

    /// Stops listening.
    package func close() {
        server.channel.close(promise: nil)
    }

    private func serve(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await client.executeThenClose { inbound, outbound in
            var request: [UInt8] = []
            for try await buffer in inbound {
                request.append(contentsOf: buffer.readableBytesView)
                if Self.headerEnd(request) != nil || request.count > 8192 { break }
            }
            try await outbound.write(ByteBuffer(string: response(for: request)))
        }
    }

    func response(for request: [UInt8]) -> String {
        let firstLine = request.split(separator: UInt8(ascii: "\r"), maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = firstLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return Self.reply(status: "400 Bad Request", body: "bad request\n")
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            return Self.reply(status: "405 Method Not Allowed", body: "only GET\n")
        }
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path == "/metrics" || path == "/" else { return Self.reply(status: "404 Not Found", body: "not found\n") }
        let body = render()
        return Self.reply(status: "200 OK", body: parts[0] == "HEAD" ? "" : body, contentLength: body.utf8.count,
                          contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    static func reply(status: String, body: String, contentLength: Int? = nil, contentType: String = "text/plain; charset=utf-8") -> String {
        "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(contentLength ?? body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    }

    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}

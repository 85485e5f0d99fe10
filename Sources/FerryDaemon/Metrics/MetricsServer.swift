import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP/1.1 endpoint Prometheus scrapes: `GET /metrics` (or `/`) answers the text exposition format, other
/// paths 404, other methods 405, and every response closes the connection.
///
/// Parsing is swift-nio's HTTP/1 codec (NIOHTTP1), not a hand-written one. The socket is reachable by anyone who can
/// reach the port, so each connection is bounded: it is closed `connectionTimeout` after it was accepted, whatever
/// it sent (a silent client, or one that trickles a byte at a time, cannot hold a task for longer), request bodies
/// are discarded as they arrive, and at most `maximumConnections` are served at once: the next ones are closed at
/// accept, so a burst of idle clients cannot starve a scraper for longer than the timeout.
package final class MetricsServer: Sendable {
    typealias Client = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// How long a connection may last, from accept to close: time to send a request and read the reply.
    package static let connectionTimeout: TimeAmount = .seconds(10)
    /// Connections served at once.
    package static let maximumConnections = 32

    private let server: NIOAsyncChannel<Client, Never>
    private let render: @Sendable () -> String
    private let limit: Int
    private let active = Locked(0)

    private init(server: NIOAsyncChannel<Client, Never>, limit: Int, render: @escaping @Sendable () -> String) {
        self.server = server
        self.limit = limit
        self.render = render
    }

    /// Binds the listener.
    package static func bind(
        host: String, port: Int, group: any EventLoopGroup,
        connectionTimeout: TimeAmount = MetricsServer.connectionTimeout,
        maximumConnections: Int = MetricsServer.maximumConnections,
        render: @escaping @Sendable () -> String
    ) async throws -> MetricsServer {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    channel.eventLoop.scheduleTask(in: connectionTimeout) { channel.close(promise: nil) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try Client(wrappingChannelSynchronously: channel)
                }
            }
        return MetricsServer(server: server, limit: maximumConnections, render: render)
    }

    /// The bound port.
    package var port: Int? { server.channel.localAddress?.port }

    /// Serves until `close()`.
    package func run() async {
        try? await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await client in inbound {
                    let admitted = active.withLock { count -> Bool in
                        guard count < limit else { return false }
                        count += 1
                        return true
                    }
                    guard admitted else {
                        // Closed at once; through executeThenClose so the channel's writer is finished properly.
                        group.addTask { try? await client.executeThenClose { _, _ in } }
                        continue
                    }
                    group.addTask {
                        await self.serve(client)
                        self.active.withLock { $0 -= 1 }
                    }
                }
            }
        }
    }

    /// Stops listening.
    package func close() {
        server.channel.close(promise: nil)
    }

    private func serve(_ client: Client) async {
        try? await client.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let received): head = received
                case .body: continue
                case .end: break
                }
                if case .end = part { break }
            }
            guard let head else { return }
            let reply = response(method: head.method, uri: head.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: reply.contentType)
            headers.add(name: "Content-Length", value: "\(reply.body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers)))
            if head.method != .HEAD { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: reply.body)))) }
            try await outbound.write(.end(nil))
        }
    }

    /// The answer to one request.
    func response(method: HTTPMethod, uri: String) -> (status: HTTPResponseStatus, body: String, contentType: String) {
        guard method == .GET || method == .HEAD else { return (.methodNotAllowed, "only GET\n", "text/plain; charset=utf-8") }
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path == "/metrics" || path == "/" else { return (.notFound, "not found\n", "text/plain; charset=utf-8") }
        return (.ok, render(), "text/plain; version=0.0.4; charset=utf-8")
    }
}

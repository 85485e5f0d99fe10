import Foundation
import Logging
import NIOCore
import NIOPosix

/// The control socket: a Unix stream socket (mode 0600) speaking line-delimited JSON (`ControlProtocol`).
///
/// Besides the file mode, every connection's peer credentials are checked (SO_PEERCRED): only the daemon's own
/// uid and root may talk to it, so a permissive umask or a directory another user can enter does not open it up.
/// A connection that sends nothing for `idleTimeout` is closed, and at most `maximumConnections` are served at
/// once (the next ones are closed at accept), so quiet clients cannot pile up.
package final class ControlServer: Sendable {
    /// How long a connection may stay silent.
    package static let idleTimeout: TimeAmount = .seconds(30)
    /// Connections served at once.
    package static let maximumConnections = 32

    package typealias Handler = @Sendable (ControlRequest) async -> String

    let path: String
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let handler: Handler
    private let logger: Logger
    /// Open client connections, closed by `close()` so `run()` can finish while a client idles.
    private let clients = Locked([ObjectIdentifier: any Channel]())
    private let limit: Int

    private init(
        path: String, server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, limit: Int,
        handler: @escaping Handler, logger: Logger
    ) {
        self.path = path
        self.server = server
        self.limit = limit
        self.handler = handler
        self.logger = logger
    }

    /// Binds the socket (replacing a stale socket file) and restricts it to mode 0600.
    package static func bind(
        path: String, group: any EventLoopGroup, logger: Logger,
        idleTimeout: TimeAmount = ControlServer.idleTimeout, maximumConnections: Int = ControlServer.maximumConnections,
        handler: @escaping Handler
    ) async throws -> ControlServer {
        var info = stat()
        if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
        let server = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        chmod(path, 0o600)
        return ControlServer(path: path, server: server, limit: maximumConnections, handler: handler, logger: logger)
    }

    /// Serves connections until `close()`.
    package func run() async {
        try? await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await client in inbound {
                    guard clients.withLock({ $0.count }) < limit else {
                        logger.warning("control connection refused: too many open", metadata: ["limit": "\(limit)"])
                        // Closed at once; through executeThenClose so the channel's writer is finished properly.
                        group.addTask { try? await client.executeThenClose { _, _ in } }
                        continue
                    }
                    // Counted from accept, so a burst cannot pass the limit before its tasks start.
                    clients.withLock { $0[ObjectIdentifier(client.channel)] = client.channel }
                    group.addTask { await self.serve(client) }
                }
            }
        }
    }

    /// Stops accepting and removes the socket file.
    package func close() {
        server.channel.close(promise: nil)
        let open = clients.withLock { clients in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        for channel in open { channel.close(promise: nil) }
        unlink(path)
    }

    private func serve(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let key = ObjectIdentifier(client.channel)
        defer { clients.withLock { _ = $0.removeValue(forKey: key) } }
        guard await Self.peerIsAllowed(client.channel) else {
            logger.warning("control connection from another user refused")
            try? await client.channel.close()
            return
        }
        try? await client.executeThenClose { inbound, outbound in
            var pending: [UInt8] = []
            for try await buffer in inbound {
                pending.append(contentsOf: buffer.readableBytesView)
                guard pending.count <= 1 << 20 else { return }
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    let answer: String
                    if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line)) {
                        answer = await handler(request)
                    } else {
                        answer = #"{"ok":false,"error":"malformed request: expected {\"command\":…}"}"#
                    }
                    try await outbound.write(ByteBuffer(string: answer + "\n"))
                }
            }
        }
    }

    /// Whether the connecting process runs as this process's uid or root (SO_PEERCRED).
    static func peerIsAllowed(_ channel: any Channel) async -> Bool {
        guard let provider = channel as? any SocketOptionProvider else { return false }
        guard let credentials: PeerCredentials = try? await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        ).get() else { return false }
        return credentials.uid == getuid() || credentials.uid == 0
    }
}

/// `struct ucred` (Linux `SO_PEERCRED`), which Glibc's Swift overlay does not import without `_GNU_SOURCE`;
/// three 32-bit fields, the same layout.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

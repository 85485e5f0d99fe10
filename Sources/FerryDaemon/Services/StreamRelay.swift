import Ferry
import NIOCore
import NIOPosix

/// Joins one QUIC bidirectional stream to one TCP connection, in both directions.
///
/// Each direction is copied until its end: a FIN on the stream half-closes the TCP connection (`shutdown(SHUT_WR)`)
/// and a TCP EOF finishes the stream, so protocols that half-close (HTTP/1.0 clients, `nc -q`) work through a
/// tunnel. Resets travel too: a RESET_STREAM from the peer closes the TCP connection with RST (SO_LINGER 0),
/// and a TCP reset or error resets the stream and asks the peer to stop sending (RFC 9000 §3.5).
enum StreamRelay {
    /// The application error code for a stream abandoned because its TCP side failed.
    static let tcpResetCode: UInt64 = 0x52  // 'R'

    /// The NIO channel type for relayed TCP connections.
    typealias TCPChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// How TCP channels are configured for relaying: half-closure in both directions.
    static let channelConfiguration = NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration(isOutboundHalfClosureEnabled: true)

    /// Wraps a freshly connected or accepted TCP channel.
    static func wrap(_ channel: any Channel) throws -> TCPChannel {
        try channel.pipeline.syncOperations.addHandler(NIOCloseOnErrorHandler())
        return try TCPChannel(wrappingChannelSynchronously: channel, configuration: channelConfiguration)
    }

    /// Connects to `address` (names are resolved) with half-closure enabled.
    static func connect(to address: HostPort, group: any EventLoopGroup) async throws -> TCPChannel {
        try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .connect(host: address.host, port: Int(address.port)) { channel in
                channel.eventLoop.makeCompletedFuture { try wrap(channel) }
            }
    }

    /// Copies until both directions have ended; closes the TCP channel at the end.
    static func relay(send: SendStream, receive: ReceiveStream, tcp: TCPChannel, metrics: DaemonMetrics?) async {
        let channel = tcp.channel
        try? await tcp.executeThenClose { inbound, outbound in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Stream → TCP.
                    do {
                        while let chunk = try await receive.read(maxLength: 64 << 10) {
                            try await outbound.write(ByteBuffer(bytes: chunk))
                            metrics?.recordBytes(chunk.count, direction: "from_peer")
                        }
                        outbound.finish()
                    } catch {
                        await resetTCP(channel)
                    }
                }
                group.addTask {
                    // TCP → stream.
                    do {
                        for try await buffer in inbound {
                            try await send.write(Array(buffer.readableBytesView))
                            metrics?.recordBytes(buffer.readableBytes, direction: "to_peer")
                        }
                        try await send.finish()
                    } catch let error as Ferry.StreamError {
                        // The peer stopped reading: nothing more can be delivered, so drop the TCP side.
                        _ = error
                        await resetTCP(channel)
                    } catch {
                        send.reset(code: tcpResetCode)
                        receive.stop(code: tcpResetCode)
                    }
                }
            }
        }
    }

    /// Echoes a stream back to its sender (the `echo` service type).
    static func echo(send: SendStream, receive: ReceiveStream, metrics: DaemonMetrics?) async {
        do {
            while let chunk = try await receive.read(maxLength: 64 << 10) {
                try await send.write(chunk)
                metrics?.recordBytes(chunk.count, direction: "to_peer")
            }
            try await send.finish()
        } catch {
            send.reset(code: tcpResetCode)
        }
    }

    /// Closes a TCP connection with RST rather than FIN, so the local application sees the failure.
    static func resetTCP(_ channel: any Channel) async {
        if let provider = channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close().get()
    }
}

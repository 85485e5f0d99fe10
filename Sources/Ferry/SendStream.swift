import FerryTransport
import NIOCore

/// The sending half of a QUIC stream (RFC 9000 §3.1).
///
/// `write` suspends while flow control (RFC 9000 §4) or the stream's send buffer is full, so a fast writer is
/// paced by the peer. Releasing an unfinished stream finishes it.
public final class SendStream: Sendable {
    /// The stream's id (RFC 9000 §2.1).
    public let id: StreamID
    /// The connection the stream belongs to.
    public let connection: Connection

    init(connection: Connection, id: StreamID) {
        self.connection = connection
        self.id = id
    }

    deinit {
        let handle = connection.handle
        let stream = id
        connection.driver.sendFromDeinit { $0.sendStreamReleased(handle, stream: stream) }
    }

    /// Queues `bytes` for sending, suspending until the stream has accepted all of them.
    ///
    /// Throws `.stopped(errorCode:)` if the peer sent STOP_SENDING (RFC 9000 §3.5).
    nonisolated(nonsending) public func write(_ bytes: [UInt8]) async throws(StreamError) {
        guard !bytes.isEmpty else { return }
        try await write(bytes, finish: false)
    }

    /// Queues `bytes` and, once all are accepted, ends the stream (FIN): one hop to the event loop instead of two,
    /// which matters for small request/response exchanges.
    nonisolated(nonsending) public func write(_ bytes: [UInt8], finish: Bool) async throws(StreamError) {
        let handle = connection.handle
        let stream = id
        let loop = connection.driver
        var offset = 0
        if loop.eventLoop.inEventLoop,
            let result = loop.value.writeNow(handle, stream: stream, bytes: bytes, offset: &offset, finish: finish)
        {
            // On the loop and accepted at once: no continuation, no cancellation handler (LoopBridge.swift).
            return try result.get()
        }
        let accepted = offset
        try await loop.performCancellable { driver, resumer in
            driver.write(handle, stream: stream, bytes: bytes, offset: accepted, finish: finish, resumer: resumer)
        } onCancel: { driver in
            driver.cancelWrite(handle, stream: stream)
        }.get()
    }

    /// Ends the stream (FIN): the peer reads everything written so far and then the end.
    nonisolated(nonsending) public func finish() async throws(StreamError) {
        let handle = connection.handle
        let stream = id
        try await connection.driver.compute { $0.finish(handle, stream: stream) }.get()
    }

    /// Sets the stream's send priority: higher values are sent first, and streams of equal priority share the
    /// connection round-robin. The default is 0; RFC 9000 §2.3 leaves prioritisation to the implementation.
    nonisolated(nonsending) public func setPriority(_ priority: Int) async throws(StreamError) {
        let handle = connection.handle
        let stream = id
        try await connection.driver.compute { $0.setPriority(handle, stream: stream, priority: priority) }.get()
    }

    /// Abandons the stream with RESET_STREAM (RFC 9000 §19.4); unsent data is discarded.
    public func reset(code: UInt64) {
        let handle = connection.handle
        let stream = id
        connection.driver.send { $0.resetStream(handle, stream: stream, errorCode: code) }
    }
}

import FerryTransport
import NIOCore

/// The receiving half of a QUIC stream (RFC 9000 §3.2).
///
/// Data arrives in order. Releasing a stream that was not read to its end sends STOP_SENDING (code 0).
public final class ReceiveStream: Sendable {
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
        connection.driver.sendFromDeinit { $0.receiveStreamReleased(handle, stream: stream) }
    }

    /// Returns the next bytes (at most `maxLength`), suspending until some arrive; nil at the end of the stream.
    ///
    /// Throws `.reset(errorCode:)` if the peer abandoned the stream (RFC 9000 §3.2).
    nonisolated(nonsending) public func read(maxLength: Int = 1 << 20) async throws(StreamError) -> [UInt8]? {
        let handle = connection.handle
        let stream = id
        let limit = max(1, maxLength)
        let loop = connection.driver
        if loop.eventLoop.inEventLoop, let result = loop.value.readNow(handle, stream: stream, maxLength: limit) {
            // On the loop with data (or the end) already there: no continuation, no cancellation handler.
            return try result.get()
        }
        return try await loop.performCancellable { driver, resumer in
            driver.read(handle, stream: stream, maxLength: limit, resumer: resumer)
        } onCancel: { driver in
            driver.cancelRead(handle, stream: stream)
        }.get()
    }

    /// Reads until the end of the stream, failing with `.tooLong` beyond `limit` bytes.
    nonisolated(nonsending) public func readToEnd(limit: Int) async throws(StreamError) -> [UInt8] {
        var result: [UInt8] = []
        while let chunk = try await read(maxLength: max(1, limit - result.count + 1)) {
            result += chunk
            if result.count > limit {
                stop(code: 0)
                throw .tooLong(limit: limit)
            }
        }
        return result
    }

    /// Asks the peer to stop sending with STOP_SENDING (RFC 9000 §19.5); later reads fail.
    public func stop(code: UInt64) {
        let handle = connection.handle
        let stream = id
        connection.driver.send { $0.stopSending(handle, stream: stream, errorCode: code) }
    }
}

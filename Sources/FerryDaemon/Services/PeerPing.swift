import Ferry
import Foundation

/// `ferry ping`: round trips to a peer's `echo` service, each reported with the path it took (direct, or relayed
/// through which relay) and its time.
///
/// A connection dialed by id starts on a relay and may move to a direct path while the pings run
/// (docs/nat-traversal.md), so every reply says which path carried it. One stream, one small message at a time.
public enum PeerPing {
    /// One round trip.
    public struct Reply: Sendable, Equatable {
        /// 1-based.
        public var sequence: Int
        public var time: Duration
        /// `direct` or `relayed via <relay id prefix>`.
        public var path: String
    }

    /// Dials `peer` (`ID`, `ID@host:port`, `;relay=…`) on `ferry/tcp/echo` from `endpoint` and sends `count`
    /// messages of 16 bytes, waiting `interval` between them; calls `report` after each reply.
    public static func run(
        endpoint: Endpoint, peer: EndpointAddress, count: Int, interval: Duration,
        report: (Reply) -> Void = { _ in }
    ) async throws -> [Reply] {
        let connection = try await endpoint.connect(to: peer, alpn: DaemonConfig.ServiceSettings.alpn(for: "echo"))
        defer { connection.close() }
        let (send, receive) = try await connection.openBidirectionalStream()
        var replies: [Reply] = []
        for sequence in 1...max(1, count) {
            let message = Array(String(format: "ferry ping %05d\n", sequence % 100_000).utf8.prefix(16))
            let started = ContinuousClock.now
            try await send.write(message)
            var echoed: [UInt8] = []
            while echoed.count < message.count {
                guard let bytes = try await receive.read(maxLength: message.count - echoed.count) else {
                    throw PingError.echoEnded
                }
                echoed += bytes
            }
            let time = ContinuousClock.now - started
            guard echoed == message else { throw PingError.echoMismatch }
            let path = await connection.paths.first?.kind.description ?? "unknown"
            let reply = Reply(sequence: sequence, time: time, path: path)
            replies.append(reply)
            report(reply)
            if sequence < count { try await Task.sleep(for: interval) }
        }
        try? await send.finish()
        return replies
    }

    /// Why a ping failed after connecting.
    public enum PingError: Error, CustomStringConvertible {
        case echoEnded
        case echoMismatch

        public var description: String {
            switch self {
            case .echoEnded: "the peer's echo service closed the stream"
            case .echoMismatch: "the echo did not match what was sent"
            }
        }
    }
}

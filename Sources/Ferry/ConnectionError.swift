import FerryTransport

/// Why a connection-level operation (connect, open or accept a stream, datagrams) failed.
///
/// Every case is data, never a string, so callers can tell a TLS rejection (wrong endpoint id) from a peer close
/// or an idle timeout (RFC 9000 §10, RFC 9001 §4.8).
public enum ConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connection ended; the reason says who closed it and why (TLS failures are `.tlsFailure`).
    case closed(ConnectionCloseReason)
    /// The endpoint was closed (or its socket failed) before the operation completed.
    case endpointClosed
    /// The transport refused to start the connection.
    case connectFailed(TransportError)
    /// None of the address's hosts could be resolved to an IP address usable by this socket.
    case unresolvableAddress(EndpointAddress)
    /// The endpoint was bound without ALPNs to accept, so it cannot accept connections.
    case notAccepting
    /// Another task is already waiting on this operation for the same object.
    case concurrentOperation
    /// The waiting task was cancelled.
    case cancelled
    /// A local hook refused the connection (`EndpointHooks`): before any packet was sent (`beforeConnect`), or
    /// after the handshake (`afterHandshake`, in which case the peer received the hook's code and reason).
    case locallyRejected(HookRejection)
    /// The relay answered that `peer` is not connected to it (nor to any relay of its mesh), so the handshake
    /// was abandoned at once instead of timing out (docs/relay.md §3.3).
    case peerUnreachable(EndpointID, relay: EndpointID)
    /// The address names no direct address this endpoint may use, and no relay link is up to reach the id through
    /// (no relays configured, none reachable yet, or the path mode forbids the other kind).
    case noRoute(EndpointID)

    /// Whether the handshake failed in TLS, for example because the peer could not prove the dialed id.
    public var isTLSFailure: Bool {
        if case .closed(.tlsFailure) = self { return true }
        return false
    }

    /// A one-line explanation for logs and command-line tools.
    public var description: String {
        switch self {
        case .closed(let reason): "connection closed: \(reason)"
        case .endpointClosed: "endpoint closed"
        case .connectFailed(let error): "connect failed: \(error)"
        case .unresolvableAddress(let address): "cannot resolve \(address)"
        case .notAccepting: "endpoint does not accept connections"
        case .concurrentOperation: "another task is waiting on the same operation"
        case .cancelled: "cancelled"
        case .locallyRejected(let rejection): "rejected by \(rejection)"
        case .peerUnreachable(let peer, let relay):
            "\(peer.shortDescription) is not connected to relay \(relay.shortDescription) or its mesh"
        case .noRoute(let peer): "no direct address or relay link to reach \(peer.shortDescription)"
        }
    }
}

/// Why a stream operation failed (RFC 9000 §3).
///
/// Peer codes from RESET_STREAM and STOP_SENDING are carried as numbers so applications can act on them.
public enum StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer abandoned its sending side with RESET_STREAM (RFC 9000 §19.4).
    case reset(errorCode: UInt64)
    /// The peer asked this side to stop sending with STOP_SENDING (RFC 9000 §19.5).
    case stopped(errorCode: UInt64)
    /// The connection ended.
    case connectionLost(ConnectionError)
    /// This side already finished or reset the stream, or stopped reading it.
    case closedLocally
    /// The transport rejected the operation (for example a stream ID the peer may not use).
    case invalidStream
    /// `readToEnd(limit:)` found more than `limit` bytes.
    case tooLong(limit: Int)
    /// Another task is already reading (or writing) this stream.
    case concurrentOperation
    /// The waiting task was cancelled.
    case cancelled

    /// A one-line explanation for logs and command-line tools.
    public var description: String {
        switch self {
        case .reset(let code): "stream reset by peer (code \(code))"
        case .stopped(let code): "peer stopped the stream (code \(code))"
        case .connectionLost(let error): "\(error)"
        case .closedLocally: "stream already closed locally"
        case .invalidStream: "invalid stream"
        case .tooLong(let limit): "stream longer than \(limit) bytes"
        case .concurrentOperation: "another task is using the stream"
        case .cancelled: "cancelled"
        }
    }
}

extension StreamError {
    /// Maps an error thrown by the transport's stream commands.
    init(transportError: any Error) {
        guard let error = transportError as? FerryTransport.StreamError else {
            self = .invalidStream
            return
        }
        switch error {
        case .resetByPeer(_, let errorCode): self = .reset(errorCode: errorCode)
        case .stoppedByPeer(_, let errorCode): self = .stopped(errorCode: errorCode)
        case .finished, .closedLocally: self = .closedLocally
        case .connectionClosed: self = .connectionLost(.endpointClosed)
        case .unknownStream, .wrongDirection: self = .invalidStream
        }
    }
}

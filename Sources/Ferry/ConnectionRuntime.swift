import FerryTransport
import NIOCore

/// A suspended task waiting for the event loop to hand it a value.
typealias Resumer<Value> = UnsafeContinuation<Value, Never>

/// Identifies one waiting task in a queue so its cancellation handler can find and remove it.
final class WaiterToken: Sendable {}

/// One queued waiter: its token (for cancellation) and how to resume it.
struct Waiter<Value> {
    let token: WaiterToken
    let resumer: Resumer<Value>
}

/// A `read` waiting for stream data.
struct ReadWaiter {
    let maxLength: Int
    let resumer: Resumer<Result<[UInt8]?, StreamError>>
}

/// A `write` whose bytes the stream has only partly accepted; the rest goes in on `streamWritable`.
struct PendingWrite {
    let bytes: [UInt8]
    var offset: Int
    /// Send FIN once every byte is accepted (saves the separate `finish` hop for request/response traffic).
    let finish: Bool
    let resumer: Resumer<Result<Void, StreamError>>
}

/// The event loop's state for one connection: the bridge between transport events and waiting tasks.
///
/// Owned by `EndpointDriver` and only touched on its event loop. Every queue here is bounded by a transport
/// limit (stream counts, the datagram queue) or by the number of tasks waiting, so a peer cannot grow it.
final class ConnectionRuntime {
    enum Phase {
        case handshaking
        case established
        case closed(ConnectionCloseReason)
    }

    let handle: ConnectionHandle
    let side: Side
    var phase: Phase = .handshaking

    /// The client's `connect` call, resumed on `handshakeCompleted` or `closed`.
    var connectWaiter: Resumer<Result<Connection, ConnectionError>>?
    /// Identifies the `connect` call so its cancellation can find it.
    var connectToken: WaiterToken?
    /// Whether a public `Connection` was created; if so the runtime lives until that object is released.
    var isPublished = false
    /// Whether the public `Connection` has been deinitialised.
    var isReleased = false
    /// Set on a connection to a relay (`EndpointDriver.connectRelay`): it skips the hooks and becomes a relay
    /// link when its handshake completes.
    var relayAddress: EndpointAddress?
    /// Whether this connection's candidates may be sent (its hooks accepted the peer; docs/nat-traversal.md).
    var isCandidateGateOpen = false
    /// When the gate opened (the relayed connection was handed out), and how long until it first sent on a
    /// punched direct path.
    var candidateGateOpenedAt: Instant?
    var timeToDirect: Duration?
    /// Answers hook and monitor queries; created when the handshake completes (Hooks/EndpointDriver+Hooks.swift).
    var observer: ConnectionObserver?
    /// This endpoint's address as the peer last reported it (draft-ietf-quic-address-discovery).
    var observedAddress: NetworkAddress?

    /// Streams the peer opened that no task has accepted yet (bounded by our stream limits, RFC 9000 §4.6).
    var incomingBidirectional = CircularBuffer<StreamID>()
    var incomingUnidirectional = CircularBuffer<StreamID>()
    var bidirectionalAcceptWaiters = CircularBuffer<Waiter<Result<StreamID, ConnectionError>>>()
    var unidirectionalAcceptWaiters = CircularBuffer<Waiter<Result<StreamID, ConnectionError>>>()
    /// Tasks waiting for the peer to raise its stream limit (`streamsAvailable`).
    var bidirectionalOpenWaiters = CircularBuffer<Waiter<Result<StreamID, ConnectionError>>>()
    var unidirectionalOpenWaiters = CircularBuffer<Waiter<Result<StreamID, ConnectionError>>>()

    var readWaiters: [StreamID: ReadWaiter] = [:]
    var pendingWrites: [StreamID: PendingWrite] = [:]
    var datagramWaiters = CircularBuffer<Waiter<Result<[UInt8], ConnectionError>>>()
    /// The relay's forwarding fast path, when installed (DatagramSwitch.swift), and the datagrams it declined.
    var datagramSwitch: (any DatagramSwitch)?
    var declinedDatagrams = CircularBuffer<[UInt8]>()
    var closedWaiters: [Resumer<ConnectionCloseReason>] = []

    /// Peer RESET_STREAM / STOP_SENDING codes not yet reported to a reader or writer.
    var peerStreamErrors: [StreamID: StreamError] = [:]
    /// Receive sides read to the end (or reset): dropping their `ReceiveStream` needs no STOP_SENDING.
    var receiveSidesDone: Set<StreamID> = []
    /// Send sides finished, reset or stopped: dropping their `SendStream` needs no implicit FIN.
    var sendSidesDone: Set<StreamID> = []

    init(handle: ConnectionHandle, side: Side) {
        self.handle = handle
        self.side = side
    }

    /// The close reason once the connection has ended.
    var closeReason: ConnectionCloseReason? {
        if case .closed(let reason) = phase { return reason }
        return nil
    }

    /// The error to report to a connection-level caller once the connection has ended.
    var closedError: ConnectionError? {
        closeReason.map { .closed($0) }
    }

    /// Fails every waiting task with `error` (the connection or endpoint is gone).
    func failAllWaiters(_ error: ConnectionError) {
        if let connectWaiter {
            self.connectWaiter = nil
            connectWaiter.resume(returning: .failure(error))
        }
        incomingBidirectional.removeAll()
        incomingUnidirectional.removeAll()
        drain(&bidirectionalAcceptWaiters, error)
        drain(&unidirectionalAcceptWaiters, error)
        drain(&bidirectionalOpenWaiters, error)
        drain(&unidirectionalOpenWaiters, error)
        while let waiter = datagramWaiters.popFirst() { waiter.resumer.resume(returning: .failure(error)) }
        let reads = readWaiters
        readWaiters.removeAll()
        for (_, waiter) in reads { waiter.resumer.resume(returning: .failure(.connectionLost(error))) }
        let writes = pendingWrites
        pendingWrites.removeAll()
        for (_, write) in writes { write.resumer.resume(returning: .failure(.connectionLost(error))) }
        peerStreamErrors.removeAll()
    }

    /// Resumes every `closed` waiter with the close reason.
    func resumeClosedWaiters(_ reason: ConnectionCloseReason) {
        let waiters = closedWaiters
        closedWaiters.removeAll()
        for waiter in waiters { waiter.resume(returning: reason) }
    }

    private func drain(
        _ queue: inout CircularBuffer<Waiter<Result<StreamID, ConnectionError>>>,
        _ error: ConnectionError
    ) {
        while let waiter = queue.popFirst() { waiter.resumer.resume(returning: .failure(error)) }
    }
}

extension CircularBuffer {
    /// Removes the element whose token matches, returning it.
    mutating func removeWaiter<Value>(_ token: WaiterToken) -> Element? where Element == Waiter<Value> {
        guard let index = firstIndex(where: { $0.token === token }) else { return nil }
        return remove(at: index)
    }
}

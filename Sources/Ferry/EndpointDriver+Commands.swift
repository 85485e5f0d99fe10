import FerryTransport
import NIOCore

/// Application commands, executed on the driver's event loop. Each resumes its caller exactly once, either at
/// once or from a later transport event, and schedules a drive so any resulting packets go out in the next batch.
extension EndpointDriver {
    // MARK: Connections

    func connect(
        to remote: NetworkAddress,
        expectedPeer: EndpointID,
        alpns: [[UInt8]],
        token: WaiterToken,
        resumer: Resumer<Result<Connection, ConnectionError>>
    ) {
        guard state == .open else { return resumer.resume(returning: .failure(.endpointClosed)) }
        let handle: ConnectionHandle
        do {
            handle = try transport.connect(to: remote, expectedPeer: expectedPeer, alpns: alpns, now: LoopClock.now())
        } catch {
            return resumer.resume(returning: .failure(.connectFailed(error)))
        }
        let runtime = ConnectionRuntime(handle: handle, side: .client)
        runtime.connectWaiter = resumer
        runtime.connectToken = token
        connections[handle] = runtime
        drive()
    }

    func cancelConnect(token: WaiterToken) {
        guard let runtime = connections.values.first(where: { $0.connectToken === token }),
            let waiter = runtime.connectWaiter
        else { return }
        runtime.connectWaiter = nil
        waiter.resume(returning: .failure(.cancelled))
        transport.connection(runtime.handle)?.close(errorCode: 0, reason: "cancelled", now: LoopClock.now())
        scheduleDrive()
    }

    func acceptIncoming(token: WaiterToken, resumer: Resumer<Result<Connection?, ConnectionError>>) {
        guard acceptsIncoming else { return resumer.resume(returning: .failure(.notAccepting)) }
        guard state == .open else { return resumer.resume(returning: .success(nil)) }
        if let connection = incomingQueue.popFirst() {
            resumer.resume(returning: .success(connection))
        } else {
            incomingWaiters.append(Waiter(token: token, resumer: resumer))
        }
    }

    func cancelAcceptIncoming(token: WaiterToken) {
        incomingWaiters.removeWaiter(token)?.resumer.resume(returning: .failure(.cancelled))
    }

    func closeConnection(_ handle: ConnectionHandle, errorCode: UInt64, reason: String) {
        transport.connection(handle)?.close(errorCode: errorCode, reason: reason, now: LoopClock.now())
        scheduleDrive()
    }

    func waitClosed(_ handle: ConnectionHandle, resumer: Resumer<ConnectionCloseReason>) {
        guard let runtime = connections[handle] else {
            return resumer.resume(
                returning: .applicationClosed(errorCode: 0, reason: "endpoint closed", by: .local)
            )
        }
        if let reason = runtime.closeReason { return resumer.resume(returning: reason) }
        runtime.closedWaiters.append(resumer)
    }

    func closeReason(_ handle: ConnectionHandle) -> ConnectionCloseReason? {
        guard let runtime = connections[handle] else {
            return .applicationClosed(errorCode: 0, reason: "endpoint closed", by: .local)
        }
        return runtime.closeReason
    }

    func stats(_ handle: ConnectionHandle) -> ConnectionStats? {
        transport.connection(handle)?.stats
    }

    /// The public `Connection` was released: close the connection (like quinn) and forget it once closed.
    func connectionReleased(_ handle: ConnectionHandle) {
        guard let runtime = connections[handle] else { return }
        runtime.isReleased = true
        if case .closed = runtime.phase {
            connections.removeValue(forKey: handle)
        } else {
            transport.connection(handle)?.close(errorCode: 0, reason: "", now: LoopClock.now())
            scheduleDrive()
        }
    }

    /// The runtime and transport connection for a command, or the error to report.
    private func lookup(_ handle: ConnectionHandle) -> Result<(ConnectionRuntime, TransportConnection), ConnectionError> {
        guard let runtime = connections[handle] else { return .failure(.endpointClosed) }
        if let error = runtime.closedError { return .failure(error) }
        guard let connection = transport.connection(handle) else { return .failure(.endpointClosed) }
        return .success((runtime, connection))
    }

    /// The runtime for a stream command, or the stream error to report when the connection is gone.
    private func streamRuntime(_ handle: ConnectionHandle) -> Result<ConnectionRuntime, StreamError> {
        lookup(handle).map(\.0).mapError { .connectionLost($0) }
    }

    // MARK: Opening and accepting streams

    func openStream(
        _ handle: ConnectionHandle,
        bidirectional: Bool,
        token: WaiterToken,
        resumer: Resumer<Result<StreamID, ConnectionError>>
    ) {
        let runtime: ConnectionRuntime
        let connection: TransportConnection
        switch lookup(handle) {
        case .failure(let error): return resumer.resume(returning: .failure(error))
        case .success(let found): (runtime, connection) = found
        }
        let waiting = bidirectional ? runtime.bidirectionalOpenWaiters : runtime.unidirectionalOpenWaiters
        if waiting.isEmpty, let stream = connection.openStream(bidirectional: bidirectional) {
            return resumer.resume(returning: .success(stream))
        }
        // The peer's stream limit is reached (RFC 9000 §4.6): wait for MAX_STREAMS.
        let waiter = Waiter(token: token, resumer: resumer)
        if bidirectional {
            runtime.bidirectionalOpenWaiters.append(waiter)
        } else {
            runtime.unidirectionalOpenWaiters.append(waiter)
        }
        scheduleDrive()
    }

    func acceptStream(
        _ handle: ConnectionHandle,
        bidirectional: Bool,
        token: WaiterToken,
        resumer: Resumer<Result<StreamID, ConnectionError>>
    ) {
        let runtime: ConnectionRuntime
        switch lookup(handle) {
        case .failure(let error): return resumer.resume(returning: .failure(error))
        case .success(let found): runtime = found.0
        }
        if bidirectional {
            if let stream = runtime.incomingBidirectional.popFirst() {
                return resumer.resume(returning: .success(stream))
            }
            runtime.bidirectionalAcceptWaiters.append(Waiter(token: token, resumer: resumer))
        } else {
            if let stream = runtime.incomingUnidirectional.popFirst() {
                return resumer.resume(returning: .success(stream))
            }
            runtime.unidirectionalAcceptWaiters.append(Waiter(token: token, resumer: resumer))
        }
    }

    /// Cancels a waiting `openStream` or `acceptStream`.
    func cancelStreamWaiter(_ handle: ConnectionHandle, token: WaiterToken) {
        guard let runtime = connections[handle] else { return }
        let waiter =
            runtime.bidirectionalAcceptWaiters.removeWaiter(token)
            ?? runtime.unidirectionalAcceptWaiters.removeWaiter(token)
            ?? runtime.bidirectionalOpenWaiters.removeWaiter(token)
            ?? runtime.unidirectionalOpenWaiters.removeWaiter(token)
        waiter?.resumer.resume(returning: .failure(.cancelled))
    }

    // MARK: Sending

    /// Starts a write of `bytes[offset...]`; `offset` is where a `writeNow` that could not finish stopped.
    func write(
        _ handle: ConnectionHandle,
        stream: StreamID,
        bytes: [UInt8],
        offset: Int = 0,
        finish: Bool,
        resumer: Resumer<Result<Void, StreamError>>
    ) {
        switch startWrite(handle, stream: stream) {
        case .failure(let error):
            resumer.resume(returning: .failure(error))
        case .success(let runtime):
            continueWrite(
                runtime: runtime,
                stream: stream,
                write: PendingWrite(bytes: bytes, offset: offset, finish: finish, resumer: resumer)
            )
        }
    }

    /// The fast path for a caller already on the loop: feeds the write at once and returns its result, or nil
    /// (with `offset` advanced) when the stream cannot take all of it yet and the caller must park with `write`.
    func writeNow(
        _ handle: ConnectionHandle,
        stream: StreamID,
        bytes: [UInt8],
        offset: inout Int,
        finish: Bool
    ) -> Result<Void, StreamError>? {
        switch startWrite(handle, stream: stream) {
        case .failure(let error): return .failure(error)
        case .success(let runtime):
            return feedWrite(runtime: runtime, stream: stream, bytes: bytes, offset: &offset, finish: finish)
        }
    }

    /// The checks before a new write: the connection is usable, the peer has not stopped the stream, and no
    /// other write is in progress on it.
    private func startWrite(_ handle: ConnectionHandle, stream: StreamID) -> Result<ConnectionRuntime, StreamError> {
        let runtime: ConnectionRuntime
        switch streamRuntime(handle) {
        case .failure(let error): return .failure(error)
        case .success(let found): runtime = found
        }
        if !runtime.peerStreamErrors.isEmpty, let error = runtime.peerStreamErrors[stream], case .stopped = error {
            runtime.peerStreamErrors.removeValue(forKey: stream)
            return .failure(error)
        }
        if !runtime.pendingWrites.isEmpty, runtime.pendingWrites[stream] != nil { return .failure(.concurrentOperation) }
        return .success(runtime)
    }

    /// Feeds as much of `write` as the stream accepts; parks the rest until `streamWritable`.
    func continueWrite(runtime: ConnectionRuntime, stream: StreamID, write: PendingWrite) {
        var write = write
        if let result = feedWrite(
            runtime: runtime, stream: stream, bytes: write.bytes, offset: &write.offset, finish: write.finish)
        {
            write.resumer.resume(returning: result)
        } else {
            runtime.pendingWrites[stream] = write
        }
    }

    /// Hands `bytes[offset...]` to the stream, advancing `offset`, and sends FIN once all are in when `finish`.
    /// Returns the write's result once it is complete or failed, nil while the stream's buffer is full.
    private func feedWrite(
        runtime: ConnectionRuntime,
        stream: StreamID,
        bytes: [UInt8],
        offset: inout Int,
        finish: Bool
    ) -> Result<Void, StreamError>? {
        guard let connection = transport.connection(runtime.handle) else {
            return .failure(.connectionLost(runtime.closedError ?? .endpointClosed))
        }
        let start = offset
        let result: Result<Int, StreamError> = bytes.withUnsafeBytes { all in
            let remaining = UnsafeRawBufferPointer(rebasing: all[start...])
            do {
                return .success(try connection.write(stream, remaining))
            } catch {
                return .failure(streamError(error, runtime: runtime, stream: stream))
            }
        }
        let accepted: Int
        switch result {
        case .failure(let error): return .failure(error)
        case .success(let count): accepted = count
        }
        offset += accepted
        if accepted > 0 || finish { scheduleDrive() }
        guard offset >= bytes.count else { return nil }
        if finish {
            do {
                try connection.finish(stream)
            } catch {
                return .failure(streamError(error, runtime: runtime, stream: stream))
            }
            runtime.sendSidesDone.insert(stream)
        }
        return .success(())
    }

    func cancelWrite(_ handle: ConnectionHandle, stream: StreamID) {
        connections[handle]?.pendingWrites.removeValue(forKey: stream)?.resumer.resume(returning: .failure(.cancelled))
    }

    func finish(_ handle: ConnectionHandle, stream: StreamID) -> Result<Void, StreamError> {
        let runtime: ConnectionRuntime
        let connection: TransportConnection
        switch lookup(handle) {
        case .failure(let error): return .failure(.connectionLost(error))
        case .success(let found): (runtime, connection) = found
        }
        if !runtime.pendingWrites.isEmpty, runtime.pendingWrites[stream] != nil { return .failure(.concurrentOperation) }
        do {
            try connection.finish(stream)
        } catch {
            return .failure(streamError(error, runtime: runtime, stream: stream))
        }
        runtime.sendSidesDone.insert(stream)
        scheduleDrive()
        return .success(())
    }

    func setPriority(_ handle: ConnectionHandle, stream: StreamID, priority: Int) -> Result<Void, StreamError> {
        let runtime: ConnectionRuntime
        let connection: TransportConnection
        switch lookup(handle) {
        case .failure(let error): return .failure(.connectionLost(error))
        case .success(let found): (runtime, connection) = found
        }
        do {
            try connection.setPriority(stream, priority)
        } catch {
            return .failure(streamError(error, runtime: runtime, stream: stream))
        }
        scheduleDrive()
        return .success(())
    }

    func resetStream(_ handle: ConnectionHandle, stream: StreamID, errorCode: UInt64) {
        guard case .success(let (runtime, connection)) = lookup(handle) else { return }
        runtime.pendingWrites.removeValue(forKey: stream)?.resumer.resume(returning: .failure(.closedLocally))
        runtime.sendSidesDone.insert(stream)
        try? connection.resetStream(stream, errorCode: errorCode)
        scheduleDrive()
    }

    func sendStreamReleased(_ handle: ConnectionHandle, stream: StreamID) {
        guard case .success(let (runtime, connection)) = lookup(handle) else { return }
        if runtime.sendSidesDone.remove(stream) == nil {
            // Dropping an unfinished send side finishes it, as in quinn, rather than leaving the peer waiting.
            try? connection.finish(stream)
            scheduleDrive()
        }
        if !runtime.peerStreamErrors.isEmpty { runtime.peerStreamErrors.removeValue(forKey: stream) }
    }

    // MARK: Receiving

    func read(
        _ handle: ConnectionHandle,
        stream: StreamID,
        maxLength: Int,
        resumer: Resumer<Result<[UInt8]?, StreamError>>
    ) {
        switch startRead(handle, stream: stream) {
        case .failure(let error):
            resumer.resume(returning: .failure(error))
        case .success(let runtime):
            attemptRead(runtime: runtime, stream: stream, waiter: ReadWaiter(maxLength: maxLength, resumer: resumer))
        }
    }

    /// The fast path for a caller already on the loop: the read's result if data, the end or an error is there
    /// now, nil when the caller must park with `read`.
    func readNow(_ handle: ConnectionHandle, stream: StreamID, maxLength: Int) -> Result<[UInt8]?, StreamError>? {
        switch startRead(handle, stream: stream) {
        case .failure(let error): return .failure(error)
        case .success(let runtime): return readAvailable(runtime: runtime, stream: stream, maxLength: maxLength)
        }
    }

    /// The checks before a read: the connection is usable and no other read is waiting on the stream.
    private func startRead(_ handle: ConnectionHandle, stream: StreamID) -> Result<ConnectionRuntime, StreamError> {
        let runtime: ConnectionRuntime
        switch streamRuntime(handle) {
        case .failure(let error): return .failure(error)
        case .success(let found): runtime = found
        }
        if !runtime.readWaiters.isEmpty, runtime.readWaiters[stream] != nil { return .failure(.concurrentOperation) }
        return .success(runtime)
    }

    /// Reads now if data (or the end) is available; otherwise parks the waiter until `streamReadable`.
    func attemptRead(runtime: ConnectionRuntime, stream: StreamID, waiter: ReadWaiter) {
        if let result = readAvailable(runtime: runtime, stream: stream, maxLength: waiter.maxLength) {
            waiter.resumer.resume(returning: result)
        } else {
            runtime.readWaiters[stream] = waiter
        }
    }

    /// The next bytes, the end (nil) or the stream's error; nil (no result) while nothing is there yet.
    private func readAvailable(
        runtime: ConnectionRuntime,
        stream: StreamID,
        maxLength: Int
    ) -> Result<[UInt8]?, StreamError>? {
        guard let connection = transport.connection(runtime.handle) else {
            return .failure(.connectionLost(runtime.closedError ?? .endpointClosed))
        }
        let result: FerryTransport.StreamReadResult
        do {
            result = try connection.read(stream, maxLength: maxLength)
        } catch {
            runtime.receiveSidesDone.insert(stream)
            return .failure(streamError(error, runtime: runtime, stream: stream))
        }
        switch result {
        case .data(let bytes):
            // Reading may open flow-control credit (MAX_STREAM_DATA / MAX_DATA, RFC 9000 §4.2).
            scheduleDrive()
            return .success(bytes)
        case .finished:
            runtime.receiveSidesDone.insert(stream)
            return .success(nil)
        case .blocked:
            return nil
        }
    }

    func cancelRead(_ handle: ConnectionHandle, stream: StreamID) {
        connections[handle]?.readWaiters.removeValue(forKey: stream)?.resumer.resume(returning: .failure(.cancelled))
    }

    func stopSending(_ handle: ConnectionHandle, stream: StreamID, errorCode: UInt64) {
        guard case .success(let (runtime, connection)) = lookup(handle) else { return }
        runtime.readWaiters.removeValue(forKey: stream)?.resumer.resume(returning: .failure(.closedLocally))
        runtime.receiveSidesDone.insert(stream)
        try? connection.stopSending(stream, errorCode: errorCode)
        scheduleDrive()
    }

    func receiveStreamReleased(_ handle: ConnectionHandle, stream: StreamID) {
        guard case .success(let (runtime, connection)) = lookup(handle) else { return }
        if runtime.receiveSidesDone.remove(stream) == nil {
            // Nobody will read the rest: tell the peer to stop (RFC 9000 §3.5), as quinn does on drop.
            try? connection.stopSending(stream, errorCode: 0)
            scheduleDrive()
        }
        if !runtime.peerStreamErrors.isEmpty { runtime.peerStreamErrors.removeValue(forKey: stream) }
    }

    /// Maps a transport stream error, preferring a pending peer RESET_STREAM / STOP_SENDING code.
    private func streamError(_ error: any Error, runtime: ConnectionRuntime, stream: StreamID) -> StreamError {
        if !runtime.peerStreamErrors.isEmpty, let peerError = runtime.peerStreamErrors.removeValue(forKey: stream) {
            return peerError
        }
        if let closed = runtime.closedError { return .connectionLost(closed) }
        return StreamError(transportError: error)
    }

    // MARK: Datagrams

    func sendDatagram(_ handle: ConnectionHandle, bytes: [UInt8]) -> Result<Void, DatagramError> {
        guard case .success(let (_, connection)) = lookup(handle) else { return .failure(.connectionClosed) }
        do {
            try connection.sendDatagram(bytes)
        } catch {
            return .failure(error)
        }
        scheduleDrive()
        return .success(())
    }

    func receiveDatagram(
        _ handle: ConnectionHandle,
        token: WaiterToken,
        resumer: Resumer<Result<[UInt8], ConnectionError>>
    ) {
        let runtime: ConnectionRuntime
        let connection: TransportConnection
        switch lookup(handle) {
        case .failure(let error): return resumer.resume(returning: .failure(error))
        case .success(let found): (runtime, connection) = found
        }
        if runtime.datagramWaiters.isEmpty, let datagram = nextReceivedDatagram(runtime, connection) {
            return resumer.resume(returning: .success(datagram))
        }
        runtime.datagramWaiters.append(Waiter(token: token, resumer: resumer))
    }

    func cancelReceiveDatagram(_ handle: ConnectionHandle, token: WaiterToken) {
        connections[handle]?.datagramWaiters.removeWaiter(token)?.resumer.resume(returning: .failure(.cancelled))
    }
}

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

    func write(
        _ handle: ConnectionHandle,
        stream: StreamID,
        bytes: [UInt8],
        finish: Bool,
        resumer: Resumer<Result<Void, StreamError>>
    ) {
        let runtime: ConnectionRuntime
        switch lookup(handle) {
        case .failure(let error): return resumer.resume(returning: .failure(.connectionLost(error)))
        case .success(let found): runtime = found.0
        }
        if let error = runtime.peerStreamErrors[stream], case .stopped = error {
            runtime.peerStreamErrors.removeValue(forKey: stream)
            return resumer.resume(returning: .failure(error))
        }
        guard runtime.pendingWrites[stream] == nil else {
            return resumer.resume(returning: .failure(.concurrentOperation))
        }
        continueWrite(
            runtime: runtime,
            stream: stream,
            write: PendingWrite(bytes: bytes, offset: 0, finish: finish, resumer: resumer)
        )
    }

    /// Feeds as much of `write` as the stream accepts; parks the rest until `streamWritable`.
    func continueWrite(runtime: ConnectionRuntime, stream: StreamID, write: PendingWrite) {
        guard let connection = transport.connection(runtime.handle) else {
            return write.resumer.resume(returning: .failure(.connectionLost(runtime.closedError ?? .endpointClosed)))
        }
        var write = write
        let result: Result<Int, StreamError> = write.bytes.withUnsafeBytes { all in
            let remaining = UnsafeRawBufferPointer(rebasing: all[write.offset...])
            do {
                return .success(try connection.write(stream, remaining))
            } catch {
                return .failure(streamError(error, runtime: runtime, stream: stream))
            }
        }
        switch result {
        case .failure(let error):
            write.resumer.resume(returning: .failure(error))
        case .success(let accepted):
            write.offset += accepted
            if write.offset >= write.bytes.count {
                if write.finish {
                    do {
                        try connection.finish(stream)
                        runtime.sendSidesDone.insert(stream)
                    } catch {
                        write.resumer.resume(returning: .failure(streamError(error, runtime: runtime, stream: stream)))
                        scheduleDrive()
                        return
                    }
                }
                write.resumer.resume(returning: .success(()))
            } else {
                runtime.pendingWrites[stream] = write
            }
            if accepted > 0 || write.finish { scheduleDrive() }
        }
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
        guard runtime.pendingWrites[stream] == nil else { return .failure(.concurrentOperation) }
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
        runtime.peerStreamErrors.removeValue(forKey: stream)
    }

    // MARK: Receiving

    func read(
        _ handle: ConnectionHandle,
        stream: StreamID,
        maxLength: Int,
        resumer: Resumer<Result<[UInt8]?, StreamError>>
    ) {
        let runtime: ConnectionRuntime
        switch lookup(handle) {
        case .failure(let error): return resumer.resume(returning: .failure(.connectionLost(error)))
        case .success(let found): runtime = found.0
        }
        guard runtime.readWaiters[stream] == nil else { return resumer.resume(returning: .failure(.concurrentOperation)) }
        attemptRead(runtime: runtime, stream: stream, waiter: ReadWaiter(maxLength: maxLength, resumer: resumer))
    }

    /// Reads now if data (or the end) is available; otherwise parks the waiter until `streamReadable`.
    func attemptRead(runtime: ConnectionRuntime, stream: StreamID, waiter: ReadWaiter) {
        guard let connection = transport.connection(runtime.handle) else {
            return waiter.resumer.resume(returning: .failure(.connectionLost(runtime.closedError ?? .endpointClosed)))
        }
        let result: FerryTransport.StreamReadResult
        do {
            result = try connection.read(stream, maxLength: waiter.maxLength)
        } catch {
            runtime.receiveSidesDone.insert(stream)
            return waiter.resumer.resume(returning: .failure(streamError(error, runtime: runtime, stream: stream)))
        }
        switch result {
        case .data(let bytes):
            waiter.resumer.resume(returning: .success(bytes))
            // Reading may open flow-control credit (MAX_STREAM_DATA / MAX_DATA, RFC 9000 §4.2).
            scheduleDrive()
        case .finished:
            runtime.receiveSidesDone.insert(stream)
            waiter.resumer.resume(returning: .success(nil))
        case .blocked:
            runtime.readWaiters[stream] = waiter
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
        runtime.peerStreamErrors.removeValue(forKey: stream)
    }

    /// Maps a transport stream error, preferring a pending peer RESET_STREAM / STOP_SENDING code.
    private func streamError(_ error: any Error, runtime: ConnectionRuntime, stream: StreamID) -> StreamError {
        if let peerError = runtime.peerStreamErrors.removeValue(forKey: stream) { return peerError }
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
        if runtime.datagramWaiters.isEmpty, let datagram = connection.receiveDatagram() {
            return resumer.resume(returning: .success(datagram))
        }
        runtime.datagramWaiters.append(Waiter(token: token, resumer: resumer))
    }

    func cancelReceiveDatagram(_ handle: ConnectionHandle, token: WaiterToken) {
        connections[handle]?.datagramWaiters.removeWaiter(token)?.resumer.resume(returning: .failure(.cancelled))
    }
}

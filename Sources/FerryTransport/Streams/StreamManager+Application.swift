/// Application commands on streams (RFC 9000 §2.4 operations on streams).
extension StreamManager {
    /// Opens a stream of our own. Returns nil when the peer's MAX_STREAMS limit is reached (RFC 9000 §4.6); a
    /// STREAMS_BLOCKED frame is then queued and `streamsAvailable` is emitted once the peer raises the limit.
    public func openStream(bidirectional: Bool) -> StreamID? {
        guard !isClosed else { return nil }
        let index = nextLocalIndex[bidirectional]
        guard index < peerStreamLimit[bidirectional] else {
            isOpenBlocked[bidirectional] = true
            let limit = peerStreamLimit[bidirectional]
            if streamsBlockedReportedLimit[bidirectional] != limit {
                streamsBlockedReportedLimit[bidirectional] = limit
                pendingStreamsBlocked[bidirectional] = true
            }
            return nil
        }
        nextLocalIndex[bidirectional] = index + 1
        let id = StreamID(index: index, initiator: side, isBidirectional: bidirectional)
        _ = makeStream(id)
        return id
    }

    /// Queues bytes for sending and returns how many were accepted (fewer than offered, possibly 0, when the
    /// stream's send buffer is full; a `writable` event follows once acknowledgements free space).
    public func write(_ id: StreamID, _ data: UnsafeRawBufferPointer) throws(StreamError) -> Int {
        let stream = try writableStream(id)
        let room = max(0, configuration.sendBufferLimit - stream.sendBuffer.bufferedCount)
        let accepted = min(room, data.count)
        if accepted < data.count { stream.wantsWritable = true }
        guard accepted > 0 else { return 0 }
        stream.sendBuffer.append(UnsafeRawBufferPointer(rebasing: data[0..<accepted]))
        scheduleSend(stream)
        return accepted
    }

    /// Queues bytes from an array; see `write(_:_:)` with a buffer pointer.
    public func write(_ id: StreamID, _ data: [UInt8]) throws(StreamError) -> Int {
        let result: Result<Int, StreamError> = data.withUnsafeBytes { buffer in
            do throws(StreamError) {
                return .success(try write(id, buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Ends the sending part: the final size is everything written so far (RFC 9000 §4.5); a FIN is sent.
    public func finish(_ id: StreamID) throws(StreamError) {
        let stream = try writableStream(id)
        stream.sendBuffer.finish()
        scheduleSend(stream)
    }

    /// Reads in-order data (at most `maxLength` bytes), the end of the stream, or `blocked`.
    ///
    /// Reading advances the receive windows; MAX_STREAM_DATA / MAX_DATA are queued once less than half a
    /// window remains (RFC 9000 §4.2). Throws `resetByPeer` once after the peer reset the stream.
    public func read(_ id: StreamID, maxLength: Int) throws(StreamError) -> StreamReadResult {
        guard !isClosed else { throw .connectionClosed }
        guard let stream = lookup(id) else { throw .unknownStream(id) }
        guard stream.hasReceivePart else { throw .wrongDirection(id) }
        guard !stream.isLocallyStopped else { throw .closedLocally(id) }
        switch stream.receiveState {
        case .resetReceived, .resetRead:
            stream.receiveState = .resetRead
            collectIfClosed(stream)
            throw .resetByPeer(id, errorCode: stream.peerResetErrorCode)
        case .dataRead:
            return .finished
        case .receive, .sizeKnown, .dataReceived:
            break
        }
        stream.readableSignalled = false
        let bytes = stream.receiveBuffer.read(maxLength: maxLength)
        if !bytes.isEmpty {
            consumed(UInt64(bytes.count), on: stream)
            return .data(bytes)
        }
        if stream.receiveState == .dataReceived && stream.receiveBuffer.isFullyRead {
            stream.receiveState = .dataRead
            collectIfClosed(stream)
            return .finished
        }
        return .blocked
    }

    /// Records consumption and queues window updates when needed.
    func consumed(_ count: UInt64, on stream: StreamRecord) {
        stream.receiveWindow.recordConsumed(count)
        if stream.receiveState == .receive && stream.receiveWindow.needsUpdate && !stream.pendingMaxStreamData {
            stream.pendingMaxStreamData = true
            scheduleControl(stream)
        }
        releaseConnectionCredit(count)
    }

    /// Returns connection-level receive credit (data read, or discarded by a reset / STOP_SENDING).
    func releaseConnectionCredit(_ count: UInt64) {
        guard count > 0 else { return }
        connectionReceiveWindow.recordConsumed(count)
        if connectionReceiveWindow.needsUpdate { pendingMaxData = true }
    }

    /// Sets the send priority of a stream with a send part: higher values are sent first, equal values share
    /// round-robin, and the default is 0. RFC 9000 §2.3 leaves prioritisation to the implementation.
    public func setPriority(_ id: StreamID, _ priority: Int) throws(StreamError) {
        guard !isClosed else { throw .connectionClosed }
        guard let stream = lookup(id) else { throw .unknownStream(id) }
        guard stream.hasSendPart else { throw .wrongDirection(id) }
        setPriority(stream, priority)
    }

    /// The send priority of a stream, or nil if there is no such stream.
    public func priority(of id: StreamID) -> Int? {
        lookup(id)?.priority
    }

    /// Abandons the sending part (RFC 9000 §3.1, §19.4): queued and unacknowledged data is dropped and never
    /// retransmitted; RESET_STREAM carries `errorCode` and the final size. No effect once data or a reset was
    /// acknowledged or already sent.
    public func resetStream(_ id: StreamID, errorCode: UInt64) throws(StreamError) {
        guard !isClosed else { throw .connectionClosed }
        guard let stream = lookup(id) else { throw .unknownStream(id) }
        guard stream.hasSendPart else { throw .wrongDirection(id) }
        resetSendPart(stream, errorCode: errorCode)
    }

    func resetSendPart(_ stream: StreamRecord, errorCode: UInt64) {
        switch stream.sendState {
        case .ready, .send, .dataSent:
            break
        case .dataReceived, .resetSent, .resetReceived:
            return
        }
        stream.resetFinalSize = stream.sendBuffer.unsentOffset
        stream.resetErrorCode = errorCode
        stream.sendBuffer.discard()
        stream.sendState = .resetSent
        stream.pendingStreamDataBlocked = false
        stream.pendingResetStream = true
        scheduleControl(stream)
    }

    /// Asks the peer to stop sending (RFC 9000 §3.5, §19.5): buffered and future data is discarded (its flow
    /// credit released) and reads fail with `closedLocally`.
    public func stopSending(_ id: StreamID, errorCode: UInt64) throws(StreamError) {
        guard !isClosed else { throw .connectionClosed }
        guard let stream = lookup(id) else { throw .unknownStream(id) }
        guard stream.hasReceivePart else { throw .wrongDirection(id) }
        guard !stream.isLocallyStopped else { return }
        stream.isLocallyStopped = true
        stream.stopSendingErrorCode = errorCode
        stream.pendingMaxStreamData = false
        switch stream.receiveState {
        case .receive, .sizeKnown:
            stream.pendingStopSending = true
            scheduleControl(stream)
        case .dataReceived:
            stream.receiveState = .dataRead
        case .resetReceived:
            stream.receiveState = .resetRead
        case .dataRead, .resetRead:
            break
        }
        let highestOffset = stream.receiveBuffer.highestOffset
        releaseConnectionCredit(stream.receiveBuffer.discard(upTo: highestOffset))
        collectIfClosed(stream)
    }

    /// The stream if the application may write to it, else the reason why not.
    func writableStream(_ id: StreamID) throws(StreamError) -> StreamRecord {
        guard !isClosed else { throw .connectionClosed }
        guard let stream = lookup(id) else { throw .unknownStream(id) }
        guard stream.hasSendPart else { throw .wrongDirection(id) }
        if let code = stream.peerStopErrorCode { throw .stoppedByPeer(id, errorCode: code) }
        switch stream.sendState {
        case .resetSent, .resetReceived:
            throw .closedLocally(id)
        case .dataSent, .dataReceived:
            throw .finished(id)
        case .ready, .send:
            guard stream.sendBuffer.finalSize == nil else { throw .finished(id) }
            return stream
        }
    }
}

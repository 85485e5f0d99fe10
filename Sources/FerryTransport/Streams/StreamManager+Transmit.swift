/// Frame production: control frames first, then STREAM data round-robin across streams (RFC 9000 §2.3, §13.3).
extension StreamManager {
    /// Whether `writeFrames` would write anything now.
    public var hasPendingTransmit: Bool {
        if hasPendingControlFrames { return true }
        if sendQueue.contains(where: { id in lookup(id).map(isSendable) ?? false }) { return true }
        return priorityLevels.contains { level in level.queue.contains { id in lookup(id).map(isSendable) ?? false } }
    }

    /// Whether control frames (flow control, limits, resets, STOP_SENDING) wait to be sent.
    public var hasPendingControlFrames: Bool {
        pendingMaxData || pendingDataBlocked || !controlQueue.isEmpty
            || pendingMaxStreams.bidirectional || pendingMaxStreams.unidirectional
            || pendingStreamsBlocked.bidirectional || pendingStreamsBlocked.unidirectional
    }

    /// Writes control frames, then stream data, into `writer` (up to `writer.remaining` bytes) and appends one
    /// `SentFrame` per frame to `sentFrames` for the packet's sent record.
    public func writeFrames(into writer: inout ByteWriter, sentFrames: inout [SentFrame]) {
        writeControlFrames(into: &writer, sentFrames: &sentFrames)
        writeStreamFrames(into: &writer, sentFrames: &sentFrames)
    }

    /// Writes pending MAX_DATA, MAX_STREAMS, DATA_BLOCKED, STREAMS_BLOCKED and per-stream RESET_STREAM,
    /// STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED frames that fit. Values are current at writing time,
    /// so a retransmission after loss carries the latest limit (RFC 9000 §13.3).
    public func writeControlFrames(into writer: inout ByteWriter, sentFrames: inout [SentFrame]) {
        guard hasPendingControlFrames else { return }
        if pendingMaxData {
            let frame = Frame.maxData(makeConnectionWindowUpdate())
            if write(frame, into: &writer) {
                pendingMaxData = false
                sentFrames.append(.maxData)
            }
        }
        writeStreamLimitFrames(bidirectional: true, into: &writer, sentFrames: &sentFrames)
        writeStreamLimitFrames(bidirectional: false, into: &writer, sentFrames: &sentFrames)
        if pendingDataBlocked {
            if write(Frame.dataBlocked(limit: connectionSendCredit.limit), into: &writer) {
                pendingDataBlocked = false
                sentFrames.append(.dataBlocked)
            }
        }
        guard !controlQueue.isEmpty else { return }
        var kept = 0
        for index in controlQueue.indices {
            let id = controlQueue[index]
            guard let stream = lookup(id) else { continue }
            writeStreamControlFrames(stream, into: &writer, sentFrames: &sentFrames)
            if stream.hasPendingControl {
                controlQueue[kept] = id
                kept += 1
            } else {
                stream.isInControlQueue = false
            }
        }
        controlQueue.removeSubrange(kept...)
    }

    private func writeStreamLimitFrames(
        bidirectional: Bool, into writer: inout ByteWriter, sentFrames: inout [SentFrame]
    ) {
        if pendingMaxStreams[bidirectional] {
            let frame = Frame.maxStreams(bidirectional: bidirectional, maximum: localStreamLimit[bidirectional])
            if write(frame, into: &writer) {
                pendingMaxStreams[bidirectional] = false
                sentFrames.append(.maxStreams(bidirectional: bidirectional))
            }
        }
        if pendingStreamsBlocked[bidirectional] {
            let frame = Frame.streamsBlocked(bidirectional: bidirectional, limit: peerStreamLimit[bidirectional])
            if write(frame, into: &writer) {
                pendingStreamsBlocked[bidirectional] = false
                sentFrames.append(.streamsBlocked(bidirectional: bidirectional))
            }
        }
    }

    private func writeStreamControlFrames(
        _ stream: StreamRecord, into writer: inout ByteWriter, sentFrames: inout [SentFrame]
    ) {
        let raw = stream.id.rawValue
        if stream.pendingResetStream {
            let frame = Frame.resetStream(
                streamID: raw, applicationErrorCode: stream.resetErrorCode, finalSize: stream.resetFinalSize)
            if write(frame, into: &writer) {
                stream.pendingResetStream = false
                sentFrames.append(.resetStream(stream.id))
            }
        }
        if stream.pendingStopSending {
            let frame = Frame.stopSending(streamID: raw, applicationErrorCode: stream.stopSendingErrorCode)
            if write(frame, into: &writer) {
                stream.pendingStopSending = false
                sentFrames.append(.stopSending(stream.id))
            }
        }
        if stream.pendingMaxStreamData {
            if stream.receiveState == .receive && !stream.isLocallyStopped {
                let frame = Frame.maxStreamData(streamID: raw, maximum: makeStreamWindowUpdate(stream))
                if write(frame, into: &writer) {
                    stream.pendingMaxStreamData = false
                    sentFrames.append(.maxStreamData(stream.id))
                }
            } else {
                stream.pendingMaxStreamData = false
            }
        }
        if stream.pendingStreamDataBlocked {
            if stream.canSendData {
                let frame = Frame.streamDataBlocked(streamID: raw, limit: stream.sendCredit.limit)
                if write(frame, into: &writer) {
                    stream.pendingStreamDataBlocked = false
                    sentFrames.append(.streamDataBlocked(stream.id))
                    if stream.sendState == .ready { stream.sendState = .send }
                }
            } else {
                stream.pendingStreamDataBlocked = false
            }
        }
    }

    private func write(_ frame: Frame, into writer: inout ByteWriter) -> Bool {
        guard frame.encodedLength <= writer.remaining else { return false }
        frame.encode(into: &writer)
        return true
    }

    /// Writes STREAM frames: lost ranges before new data, new data within stream and connection credit. Each
    /// stream writes until it runs dry or the packet is full; a stream with more to send goes to the back of its
    /// queue, so concurrent streams share packets round-robin. With priorities in use, a level is served only
    /// once every higher level has nothing more to send (RFC 9000 §2.3 leaves prioritisation to endpoints).
    public func writeStreamFrames(into writer: inout ByteWriter, sentFrames: inout [SentFrame]) {
        guard !priorityLevels.isEmpty else {
            _ = writeRoundRobin(level: nil, into: &writer, sentFrames: &sentFrames)
            return
        }
        for level in priorityLevels.indices {
            if writeRoundRobin(level: level, into: &writer, sentFrames: &sentFrames) { return }
        }
    }

    /// One round-robin pass over `sendQueue` (level nil) or one priority level's queue; returns true when the
    /// packet filled up. A stream whose priority changed since it was queued moves to its new level.
    private func writeRoundRobin(level: Int?, into writer: inout ByteWriter, sentFrames: inout [SentFrame]) -> Bool {
        var visits = level.map { priorityLevels[$0].queue.count } ?? sendQueue.count
        while visits > 0, writer.remaining > 2, let id = popSendQueue(level: level) {
            visits -= 1
            guard let stream = lookup(id) else { continue }
            stream.isInSendQueue = false
            if let level, stream.priority != priorityLevels[level].priority {
                scheduleSend(stream)
                continue
            }
            let packetFull = writeStreamData(stream, into: &writer, sentFrames: &sentFrames)
            if packetFull {
                stream.isInSendQueue = true
                pushSendQueue(id, priority: stream.priority)
                return true
            }
            scheduleSend(stream)
        }
        return false
    }

    @inline(__always)
    private func popSendQueue(level: Int?) -> StreamID? {
        guard let level else { return sendQueue.pop() }
        return priorityLevels[level].queue.pop()
    }

    /// Queues a stream on `sendQueue`, or on its priority's level when priorities are in use.
    @inline(__always)
    private func pushSendQueue(_ id: StreamID, priority: Int) {
        guard !priorityLevels.isEmpty else { return sendQueue.push(id) }
        priorityLevels[levelIndex(for: priority)].queue.push(id)
    }

    /// The index of `priority`'s level, adding it in order if new.
    private func levelIndex(for priority: Int) -> Int {
        for index in priorityLevels.indices {
            if priorityLevels[index].priority == priority { return index }
            if priorityLevels[index].priority < priority {
                priorityLevels.insert(PriorityLevel(priority: priority), at: index)
                return index
            }
        }
        priorityLevels.append(PriorityLevel(priority: priority))
        return priorityLevels.count - 1
    }

    /// Sets a stream's send priority. The first non-zero priority switches scheduling from `sendQueue` to
    /// per-priority levels; the level is created here so that sending never inserts one mid-pass.
    func setPriority(_ stream: StreamRecord, _ priority: Int) {
        stream.priority = priority
        if priorityLevels.isEmpty {
            guard priority != 0 else { return }
            priorityLevels.append(PriorityLevel(priority: 0))
            while let id = sendQueue.pop() { priorityLevels[0].queue.push(id) }
        }
        _ = levelIndex(for: priority)
    }

    /// Writes one stream's frames; returns true when it stopped because the packet is full.
    private func writeStreamData(
        _ stream: StreamRecord, into writer: inout ByteWriter, sentFrames: inout [SentFrame]
    ) -> Bool {
        let raw = stream.id.rawValue
        while true {
            switch stream.sendState {
            case .ready, .send, .dataSent:
                break
            case .dataReceived, .resetSent, .resetReceived:
                return false
            }
            let credit = min(stream.sendCredit.available, connectionSendCredit.available)
            let room = writer.remaining
            guard let probe = stream.sendBuffer.nextSegment(maxLength: room, newDataLimit: credit) else {
                return false
            }
            let header = StreamFrame.headerLength(streamID: raw, offset: probe.offset, length: probe.length)
            var segment = probe
            if header + probe.length > room {
                let fitting = room - header
                guard fitting > 0,
                      let smaller = stream.sendBuffer.nextSegment(maxLength: fitting, newDataLimit: credit)
                else { return true }
                segment = smaller
            }
            StreamFrame.encodeHeader(
                streamID: raw, offset: segment.offset, length: segment.length, fin: segment.fin, into: &writer)
            stream.sendBuffer.emit(segment, into: &writer)
            if !segment.isRetransmission {
                let count = UInt64(segment.length)
                stream.sendCredit.consume(count)
                connectionSendCredit.consume(count)
            }
            sentFrames.append(.stream(stream.id, offset: segment.offset, length: segment.length, fin: segment.fin))
            if stream.sendState == .ready { stream.sendState = .send }
            if stream.sendState == .send && stream.sendBuffer.isEverythingSent { stream.sendState = .dataSent }
            if segment.length < probe.length { return true }
        }
    }

    /// Whether the stream could put a STREAM frame in a packet right now.
    func isSendable(_ stream: StreamRecord) -> Bool {
        switch stream.sendState {
        case .ready, .send, .dataSent:
            let credit = min(stream.sendCredit.available, connectionSendCredit.available)
            return stream.sendBuffer.hasSendableData(newDataLimit: credit)
        case .dataReceived, .resetSent, .resetReceived:
            return false
        }
    }

    /// Queues the stream for sending if it has something sendable; otherwise records why it is blocked and
    /// queues DATA_BLOCKED / STREAM_DATA_BLOCKED once per limit (RFC 9000 §4.1).
    func scheduleSend(_ stream: StreamRecord) {
        guard stream.hasSendPart else { return }
        if isSendable(stream) {
            if !stream.isInSendQueue {
                stream.isInSendQueue = true
                pushSendQueue(stream.id, priority: stream.priority)
            }
            return
        }
        guard stream.canSendData || stream.sendState == .dataSent else { return }
        if stream.sendBuffer.isBlocked(newDataLimit: stream.sendCredit.available) {
            if stream.sendCredit.shouldReportBlocked() {
                stream.pendingStreamDataBlocked = true
                scheduleControl(stream)
            }
        } else if stream.sendBuffer.isBlocked(newDataLimit: connectionSendCredit.available) {
            if !stream.isBlockedOnConnection {
                stream.isBlockedOnConnection = true
                connectionBlocked.append(stream.id)
            }
            if connectionSendCredit.shouldReportBlocked() { pendingDataBlocked = true }
        }
    }

    /// Puts the stream on the control-frame list.
    func scheduleControl(_ stream: StreamRecord) {
        guard !stream.isInControlQueue else { return }
        stream.isInControlQueue = true
        controlQueue.append(stream.id)
    }

    /// Reschedules streams that were waiting for connection credit (after MAX_DATA).
    func releaseConnectionBlocked() {
        guard !connectionBlocked.isEmpty else { return }
        swap(&spareIDs, &connectionBlocked)
        for id in spareIDs {
            guard let stream = lookup(id) else { continue }
            stream.isBlockedOnConnection = false
            scheduleSend(stream)
        }
        spareIDs.removeAll(keepingCapacity: true)
    }
}

/// The streams of one send priority, served round-robin.
struct PriorityLevel {
    let priority: Int
    var queue = StreamIDQueue()
}

/// Ingest of stream-related frames from the peer (RFC 9000 §19.4–19.14).
extension StreamManager {
    /// The most out-of-order ranges one stream may buffer before the peer is treated as abusive.
    public static let maximumReceiveGaps = 16_384

    /// Handles a stream-related frame; returns false (and does nothing) for any other frame type, which core
    /// handles itself. Throws the transport error to close the connection with.
    @discardableResult
    public func handle(_ frame: Frame) throws(TransportError) -> Bool {
        switch frame {
        case .stream(let stream):
            try handleStream(stream)
        case .resetStream(let streamID, let errorCode, let finalSize):
            try handleResetStream(streamID: streamID, errorCode: errorCode, finalSize: finalSize)
        case .stopSending(let streamID, let errorCode):
            try handleStopSending(streamID: streamID, errorCode: errorCode)
        case .maxData(let maximum):
            handleMaxData(maximum)
        case .maxStreamData(let streamID, let maximum):
            try handleMaxStreamData(streamID: streamID, maximum: maximum)
        case .maxStreams(let bidirectional, let maximum):
            try handleMaxStreams(bidirectional: bidirectional, maximum: maximum)
        case .dataBlocked:
            break  // Informational (RFC 9000 §19.12); our window updates follow consumption.
        case .streamDataBlocked(let streamID, _):
            try handleStreamDataBlocked(streamID: streamID)
        case .streamsBlocked(let bidirectional, let limit):
            try handleStreamsBlocked(bidirectional: bidirectional, limit: limit)
        default:
            return false
        }
        return true
    }

    // MARK: Stream lookup with RFC 9000 §19 validity checks

    /// The stream a receive-direction frame (STREAM, RESET_STREAM, STREAM_DATA_BLOCKED) refers to; nil when it
    /// was already closed (the frame is then ignored). Opens peer streams implicitly (RFC 9000 §3.2).
    func receivingStream(_ rawID: UInt64, frameType: UInt64) throws(TransportError) -> StreamRecord? {
        guard !isClosed else { return nil }
        let id = StreamID(rawValue: rawID)
        if id.initiator == side {
            guard id.isBidirectional else {
                throw TransportError(.streamStateError, frameType: frameType,
                                     reason: "receive frame for locally-initiated unidirectional \(id)")
            }
            guard id.index < nextLocalIndex[true] else {
                throw TransportError(.streamStateError, frameType: frameType, reason: "\(id) not yet opened")
            }
            return lookup(id)
        }
        return try peerStream(id, frameType: frameType)
    }

    /// The stream a send-direction frame (STOP_SENDING, MAX_STREAM_DATA) refers to; nil when already closed.
    func sendingStream(_ rawID: UInt64, frameType: UInt64) throws(TransportError) -> StreamRecord? {
        guard !isClosed else { return nil }
        let id = StreamID(rawValue: rawID)
        if id.initiator == side {
            guard id.index < nextLocalIndex[id.isBidirectional] else {
                throw TransportError(.streamStateError, frameType: frameType, reason: "\(id) not yet opened")
            }
            return lookup(id)
        }
        guard id.isBidirectional else {
            throw TransportError(.streamStateError, frameType: frameType,
                                 reason: "send-direction frame for peer's unidirectional \(id)")
        }
        return try peerStream(id, frameType: frameType)
    }

    /// A peer-initiated stream, opening it and every lower-numbered one of its kind first (RFC 9000 §3.2).
    func peerStream(_ id: StreamID, frameType: UInt64) throws(TransportError) -> StreamRecord? {
        let bidirectional = id.isBidirectional
        let index = id.index
        guard index < localStreamLimit[bidirectional] else {
            throw TransportError(.streamLimitError, frameType: frameType,
                                 reason: "\(id) exceeds MAX_STREAMS \(localStreamLimit[bidirectional])")
        }
        var next = nextPeerIndex[bidirectional]
        guard index >= next else { return lookup(id) }
        var opened: StreamRecord?
        while next <= index {
            let newID = StreamID(index: next, initiator: side.opposite, isBidirectional: bidirectional)
            opened = makeStream(newID)
            pushEvent(.opened(newID))
            next += 1
        }
        nextPeerIndex[bidirectional] = next
        return opened
    }

    // MARK: Frames

    /// STREAM (RFC 9000 §19.8): flow control, final size, reassembly.
    public func handleStream(_ frame: StreamFrame) throws(TransportError) {
        let frameType = FrameType.stream | StreamFrame.lengthBit
            | (frame.offset != 0 ? StreamFrame.offsetBit : 0) | (frame.fin ? StreamFrame.finBit : 0)
        guard let stream = try receivingStream(frame.streamID, frameType: frameType) else { return }
        let length = frame.data.count
        let end = frame.offset + UInt64(length)
        guard stream.receiveBuffer.validate(offset: frame.offset, length: length, fin: frame.fin) else {
            throw TransportError(.finalSizeError, frameType: frameType, reason: "STREAM data beyond final size")
        }
        switch stream.receiveState {
        case .receive, .sizeKnown:
            break
        case .dataReceived, .dataRead, .resetReceived, .resetRead:
            return  // Everything already arrived or was reset: a retransmission.
        }
        let previousHighest = stream.receiveBuffer.highestOffset
        if end > previousHighest {
            guard stream.receiveWindow.recordReceived(upTo: end) else {
                throw TransportError(.flowControlError, frameType: frameType,
                                     reason: "MAX_STREAM_DATA exceeded on \(stream.id)")
            }
            guard connectionReceiveWindow.recordReceived(count: end - previousHighest) else {
                throw TransportError(.flowControlError, frameType: frameType, reason: "MAX_DATA exceeded")
            }
        }
        if frame.fin {
            stream.receiveBuffer.setFinalSize(end)
            stream.receiveState = .sizeKnown
            stream.pendingMaxStreamData = false
        }
        if stream.isLocallyStopped {
            releaseConnectionCredit(stream.receiveBuffer.discard(upTo: end))
            if stream.receiveBuffer.isComplete {
                stream.receiveState = .dataRead
                collectIfClosed(stream)
            }
            return
        }
        if frame.offset > stream.receiveBuffer.contiguousEnd
            && stream.receiveBuffer.gapCount >= Self.maximumReceiveGaps {
            // Legitimate senders with full-size frames cannot fragment a window this much; a peer sending tiny
            // scattered frames would otherwise make reassembly bookkeeping quadratic.
            throw TransportError(.protocolViolation, frameType: frameType,
                                 reason: "too many out-of-order ranges on \(stream.id)")
        }
        let advanced = stream.receiveBuffer.insert(offset: frame.offset, bytes: frame.data)
        if stream.receiveState == .sizeKnown && stream.receiveBuffer.isComplete {
            stream.receiveState = .dataReceived
            signalReadable(stream)
        } else if advanced {
            signalReadable(stream)
        }
    }

    /// RESET_STREAM (RFC 9000 §19.4): the peer abandons the stream; data is discarded, credit released.
    public func handleResetStream(streamID: UInt64, errorCode: UInt64, finalSize: UInt64) throws(TransportError) {
        let frameType = FrameType.resetStream
        guard let stream = try receivingStream(streamID, frameType: frameType) else { return }
        let buffer = stream.receiveBuffer
        if let known = buffer.finalSize, known != finalSize {
            throw TransportError(.finalSizeError, frameType: frameType, reason: "RESET_STREAM changes final size")
        }
        guard finalSize >= buffer.highestOffset else {
            throw TransportError(.finalSizeError, frameType: frameType,
                                 reason: "RESET_STREAM final size below data received")
        }
        switch stream.receiveState {
        case .receive, .sizeKnown:
            break
        case .dataReceived, .dataRead, .resetReceived, .resetRead:
            return  // All data already here (RFC 9000 §3.2 allows ignoring), or a duplicate reset.
        }
        let previousHighest = buffer.highestOffset
        if finalSize > previousHighest {
            guard stream.receiveWindow.recordReceived(upTo: finalSize) else {
                throw TransportError(.flowControlError, frameType: frameType,
                                     reason: "RESET_STREAM final size exceeds MAX_STREAM_DATA")
            }
            guard connectionReceiveWindow.recordReceived(count: finalSize - previousHighest) else {
                throw TransportError(.flowControlError, frameType: frameType,
                                     reason: "RESET_STREAM final size exceeds MAX_DATA")
            }
        }
        stream.receiveBuffer.setFinalSize(finalSize)
        releaseConnectionCredit(stream.receiveBuffer.discard(upTo: finalSize))
        stream.peerResetErrorCode = errorCode
        stream.pendingMaxStreamData = false
        stream.pendingStopSending = false
        if stream.isLocallyStopped {
            stream.receiveState = .resetRead
            collectIfClosed(stream)
        } else {
            stream.receiveState = .resetReceived
            stream.readableSignalled = true
            pushEvent(.reset(stream.id, errorCode: errorCode))
        }
    }

    /// STOP_SENDING (RFC 9000 §19.5, §3.5): reset the sending part with the peer's code.
    public func handleStopSending(streamID: UInt64, errorCode: UInt64) throws(TransportError) {
        guard let stream = try sendingStream(streamID, frameType: FrameType.stopSending) else { return }
        switch stream.sendState {
        case .ready, .send, .dataSent:
            if stream.peerStopErrorCode == nil {
                stream.peerStopErrorCode = errorCode
                pushEvent(.stopped(stream.id, errorCode: errorCode))
            }
            resetSendPart(stream, errorCode: errorCode)
        case .dataReceived, .resetSent, .resetReceived:
            break
        }
    }

    /// MAX_DATA (RFC 9000 §19.9): more connection credit; streams blocked on it are rescheduled.
    public func handleMaxData(_ maximum: UInt64) {
        guard !isClosed, connectionSendCredit.raise(to: maximum) else { return }
        releaseConnectionBlocked()
    }

    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    public func handleMaxStreamData(streamID: UInt64, maximum: UInt64) throws(TransportError) {
        guard let stream = try sendingStream(streamID, frameType: FrameType.maxStreamData) else { return }
        if stream.sendCredit.raise(to: maximum) { scheduleSend(stream) }
    }

    /// MAX_STREAMS (RFC 9000 §19.11): the peer lets us open more streams.
    public func handleMaxStreams(bidirectional: Bool, maximum: UInt64) throws(TransportError) {
        guard maximum <= 1 << 60 else {
            throw TransportError(.frameEncodingError, frameType: bidirectional ? 0x12 : 0x13,
                                 reason: "MAX_STREAMS above 2^60")
        }
        guard !isClosed else { return }
        raisePeerStreamLimit(bidirectional: bidirectional, to: maximum)
    }

    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13): informational, but invalid on a stream we cannot receive on.
    public func handleStreamDataBlocked(streamID: UInt64) throws(TransportError) {
        _ = try receivingStream(streamID, frameType: FrameType.streamDataBlocked)
    }

    /// STREAMS_BLOCKED (RFC 9000 §19.14): informational; the limit may not exceed 2^60.
    public func handleStreamsBlocked(bidirectional: Bool, limit: UInt64) throws(TransportError) {
        guard limit <= 1 << 60 else {
            throw TransportError(.frameEncodingError, frameType: bidirectional ? 0x16 : 0x17,
                                 reason: "STREAMS_BLOCKED above 2^60")
        }
    }
}

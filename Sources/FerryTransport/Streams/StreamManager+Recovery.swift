/// Acknowledgement and loss of frames this layer sent (RFC 9000 §13.3).
extension StreamManager {
    /// A packet carrying `frame` was acknowledged: release stream data, complete resets and FINs. Frames that do
    /// not belong to the stream layer are ignored.
    public func onAcknowledged(_ frame: SentFrame) {
        guard !isClosed else { return }
        switch frame {
        case .stream(let id, let offset, let length, let fin):
            guard let stream = lookup(id) else { return }
            switch stream.sendState {
            case .ready, .send, .dataSent:
                break
            case .dataReceived, .resetSent, .resetReceived:
                return
            }
            let freed = stream.sendBuffer.acknowledge(offset: offset, length: length, fin: fin)
            if stream.sendState == .dataSent && stream.sendBuffer.isFullyAcknowledged {
                stream.sendState = .dataReceived
                collectIfClosed(stream)
                return
            }
            if freed && stream.wantsWritable && stream.sendBuffer.bufferedCount < configuration.sendBufferLimit {
                stream.wantsWritable = false
                pushEvent(.writable(id))
            }
        case .resetStream(let id):
            guard let stream = lookup(id), stream.sendState == .resetSent else { return }
            stream.sendState = .resetReceived
            collectIfClosed(stream)
        default:
            break
        }
    }

    /// A packet carrying `frame` was declared lost: schedule a retransmission of the *current* state — lost
    /// stream ranges (never for a reset stream), or the latest flow-control limits, or nothing if obsolete.
    public func onLost(_ frame: SentFrame) {
        guard !isClosed else { return }
        switch frame {
        case .stream(let id, let offset, let length, let fin):
            guard let stream = lookup(id) else { return }
            switch stream.sendState {
            case .ready, .send, .dataSent:
                stream.sendBuffer.markLost(offset: offset, length: length, fin: fin)
                scheduleSend(stream)
            case .dataReceived, .resetSent, .resetReceived:
                return
            }
        case .resetStream(let id):
            guard let stream = lookup(id), stream.sendState == .resetSent else { return }
            stream.pendingResetStream = true
            scheduleControl(stream)
        case .stopSending(let id):
            guard let stream = lookup(id), stream.isLocallyStopped else { return }
            guard stream.receiveState == .receive || stream.receiveState == .sizeKnown else { return }
            stream.pendingStopSending = true
            scheduleControl(stream)
        case .maxData:
            pendingMaxData = true
        case .maxStreamData(let id):
            guard let stream = lookup(id), stream.receiveState == .receive, !stream.isLocallyStopped else { return }
            stream.pendingMaxStreamData = true
            scheduleControl(stream)
        case .maxStreams(let bidirectional):
            pendingMaxStreams[bidirectional] = true
        case .dataBlocked:
            if connectionSendCredit.available == 0 && !connectionBlocked.isEmpty { pendingDataBlocked = true }
        case .streamDataBlocked(let id):
            guard let stream = lookup(id), stream.canSendData,
                  stream.sendBuffer.isBlocked(newDataLimit: stream.sendCredit.available) else { return }
            stream.pendingStreamDataBlocked = true
            scheduleControl(stream)
        case .streamsBlocked(let bidirectional):
            if isOpenBlocked[bidirectional] && nextLocalIndex[bidirectional] >= peerStreamLimit[bidirectional] {
                pendingStreamsBlocked[bidirectional] = true
            }
        default:
            break
        }
    }
}

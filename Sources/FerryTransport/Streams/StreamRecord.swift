/// One stream's state inside `StreamManager`: both parts, their buffers and flow control, and scheduling flags.
///
/// A final class so the manager's dictionary lookup yields a reference that is mutated in place (no copy-on-write
/// of buffers), and so scheduling queues can hold the stream ID while flags live here.
final class StreamRecord {
    let id: StreamID
    /// Whether we send on this stream (false for the peer's unidirectional streams).
    let hasSendPart: Bool
    /// Whether we receive on this stream (false for our unidirectional streams).
    let hasReceivePart: Bool

    // MARK: Sending part (RFC 9000 §3.1)
    var sendState: SendStreamState = .ready
    var sendBuffer = SendBuffer()
    var sendCredit: SendCredit
    /// Error code of our RESET_STREAM, once reset.
    var resetErrorCode: UInt64 = 0
    /// Final size carried by our RESET_STREAM.
    var resetFinalSize: UInt64 = 0
    /// STOP_SENDING code from the peer, if it sent one.
    var peerStopErrorCode: UInt64?

    // MARK: Receiving part (RFC 9000 §3.2)
    var receiveState: ReceiveStreamState = .receive
    var receiveBuffer = ReceiveBuffer()
    var receiveWindow: ReceiveWindow
    /// RESET_STREAM code from the peer, if it sent one.
    var peerResetErrorCode: UInt64 = 0
    /// We sent STOP_SENDING: incoming data is discarded.
    var isLocallyStopped = false
    var stopSendingErrorCode: UInt64 = 0

    // MARK: Scheduling
    var isInSendQueue = false
    var isInControlQueue = false
    var isBlockedOnConnection = false
    var pendingMaxStreamData = false
    var pendingResetStream = false
    var pendingStopSending = false
    var pendingStreamDataBlocked = false
    /// A write accepted less than offered; signal `writable` when buffer space frees up.
    var wantsWritable = false
    /// A `readable` event is outstanding (cleared when the application reads).
    var readableSignalled = false

    init(id: StreamID, hasSendPart: Bool, hasReceivePart: Bool, sendLimit: UInt64, receiveLimit: UInt64,
         maximumReceiveWindow: UInt64) {
        self.id = id
        self.hasSendPart = hasSendPart
        self.hasReceivePart = hasReceivePart
        sendCredit = SendCredit(limit: sendLimit)
        receiveWindow = ReceiveWindow(initialLimit: receiveLimit, maximumWindowSize: maximumReceiveWindow)
        if !hasSendPart { sendState = .dataReceived }
        if !hasReceivePart { receiveState = .dataRead }
    }

    /// Whether both parts are finished so the stream can be forgotten (RFC 9000 §3.3... §3.5).
    var isClosed: Bool { sendState.isTerminal && receiveState.isTerminal }

    /// Whether the sending part may still accept data or transmit it.
    var canSendData: Bool { sendState == .ready || sendState == .send }

    /// Whether this stream has a control frame waiting.
    var hasPendingControl: Bool {
        pendingMaxStreamData || pendingResetStream || pendingStopSending || pendingStreamDataBlocked
    }
}

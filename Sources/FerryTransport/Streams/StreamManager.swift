/// All application streams of one connection: limits, flow control, scheduling and events (RFC 9000 §2–4).
///
/// A sans-IO building block that core owns and drives:
/// - application commands: `openStream`, `write`, `finish`, `read`, `resetStream`, `stopSending`;
/// - peer input: `handle(_:)` (or the per-frame `handle…` methods) for every stream-related frame, throwing
///   `TransportError` (STREAM_STATE_ERROR, STREAM_LIMIT_ERROR, FLOW_CONTROL_ERROR, FINAL_SIZE_ERROR) that core
///   turns into CONNECTION_CLOSE; `applyPeerParameters(_:)` once the peer's transport parameters are known;
/// - output: `writeFrames(into:sentFrames:)` fills a 1-RTT packet (control frames first, then STREAM frames
///   round-robin across streams) and records `SentFrame`s; `onAcknowledged(_:)` / `onLost(_:)` take them back;
/// - events: `pollEvent()` yields `StreamEvent`s for core to turn into `ConnectionEvent`s.
///
/// It never allocates per frame on the send path: data is copied once into stream ring buffers on `write` and once
/// into the packet; queues reuse their storage.
public final class StreamManager {
    /// Local limits and behaviour. Core builds this from `TransportConfig` and must advertise the same values
    /// in its transport parameters (RFC 9000 §18.2).
    public struct Configuration: Sendable, Equatable {
        /// initial_max_data: connection-wide receive window.
        public var initialMaxData: UInt64
        /// initial_max_stream_data_bidi_local: receive window on bidirectional streams we open.
        public var initialMaxStreamDataBidiLocal: UInt64
        /// initial_max_stream_data_bidi_remote: receive window on bidirectional streams the peer opens.
        public var initialMaxStreamDataBidiRemote: UInt64
        /// initial_max_stream_data_uni: receive window on unidirectional streams the peer opens.
        public var initialMaxStreamDataUni: UInt64
        /// initial_max_streams_bidi, kept constant as streams close (MAX_STREAMS raises the cumulative limit).
        public var maxConcurrentBidirectionalStreams: UInt64
        /// initial_max_streams_uni, likewise.
        public var maxConcurrentUnidirectionalStreams: UInt64
        /// Bytes a stream buffers (unacknowledged) before `write` accepts 0.
        public var sendBufferLimit: Int
        /// Cap for auto-tuning the connection receive window.
        public var maxConnectionWindow: UInt64
        /// Cap for auto-tuning stream receive windows.
        public var maxStreamWindow: UInt64

        public init(
            initialMaxData: UInt64 = 16 << 20,
            initialMaxStreamDataBidiLocal: UInt64 = 4 << 20,
            initialMaxStreamDataBidiRemote: UInt64 = 4 << 20,
            initialMaxStreamDataUni: UInt64 = 4 << 20,
            maxConcurrentBidirectionalStreams: UInt64 = 1024,
            maxConcurrentUnidirectionalStreams: UInt64 = 100,
            sendBufferLimit: Int = 4 << 20,
            maxConnectionWindow: UInt64? = nil,
            maxStreamWindow: UInt64? = nil
        ) {
            self.initialMaxData = initialMaxData
            self.initialMaxStreamDataBidiLocal = initialMaxStreamDataBidiLocal
            self.initialMaxStreamDataBidiRemote = initialMaxStreamDataBidiRemote
            self.initialMaxStreamDataUni = initialMaxStreamDataUni
            self.maxConcurrentBidirectionalStreams = maxConcurrentBidirectionalStreams
            self.maxConcurrentUnidirectionalStreams = maxConcurrentUnidirectionalStreams
            self.sendBufferLimit = sendBufferLimit
            self.maxConnectionWindow = maxConnectionWindow ?? initialMaxData
            self.maxStreamWindow = maxStreamWindow
                ?? max(initialMaxStreamDataBidiLocal, initialMaxStreamDataBidiRemote, initialMaxStreamDataUni)
        }
    }

    /// Which end of the connection we are (decides stream ID ownership, RFC 9000 §2.1).
    public let side: Side
    /// The local configuration.
    public let configuration: Configuration

    @exclusivity(unchecked) var streams: [StreamID: StreamRecord] = [:]
    /// Whether the connection closed; every command then fails with `connectionClosed`.
    @exclusivity(unchecked) public private(set) var isClosed = false

    // Streams we open.
    @exclusivity(unchecked) var nextLocalIndex = PerDirection<UInt64>(0)
    @exclusivity(unchecked) var peerStreamLimit = PerDirection<UInt64>(0)
    @exclusivity(unchecked) var isOpenBlocked = PerDirection(false)
    @exclusivity(unchecked) var streamsBlockedReportedLimit = PerDirection<UInt64?>(nil)
    @exclusivity(unchecked) var pendingStreamsBlocked = PerDirection(false)

    // Streams the peer opens.
    @exclusivity(unchecked) var nextPeerIndex = PerDirection<UInt64>(0)
    @exclusivity(unchecked) var localStreamLimit: PerDirection<UInt64>
    @exclusivity(unchecked) var closedPeerStreams = PerDirection<UInt64>(0)
    @exclusivity(unchecked) var pendingMaxStreams = PerDirection(false)

    // Connection-level flow control (RFC 9000 §4.1).
    /// Credit the peer granted (MAX_DATA).
    @exclusivity(unchecked) public internal(set) var connectionSendCredit = SendCredit(limit: 0)
    /// The window we advertise (MAX_DATA).
    @exclusivity(unchecked) public internal(set) var connectionReceiveWindow: ReceiveWindow
    @exclusivity(unchecked) var pendingMaxData = false
    /// Set by the connection before it writes frames; window auto-tuning reads it (FlowControl.swift).
    @exclusivity(unchecked) public var flowControlClock = FlowControlClock()
    @exclusivity(unchecked) var pendingDataBlocked = false

    // The peer's initial per-stream limits (RFC 9000 §18.2).
    @exclusivity(unchecked) var peerInitialMaxStreamDataBidiLocal: UInt64 = 0
    @exclusivity(unchecked) var peerInitialMaxStreamDataBidiRemote: UInt64 = 0
    @exclusivity(unchecked) var peerInitialMaxStreamDataUni: UInt64 = 0

    // Scheduling.
    @exclusivity(unchecked) var sendQueue = StreamIDQueue()
    /// Once any stream gets a non-zero priority: one round-robin queue per priority in use, highest first,
    /// replacing `sendQueue`. Levels are never removed, so scheduling allocates only when a new level appears.
    @exclusivity(unchecked) var priorityLevels: [PriorityLevel] = []
    @exclusivity(unchecked) var controlQueue: [StreamID] = []
    @exclusivity(unchecked) var connectionBlocked: [StreamID] = []
    @exclusivity(unchecked) var spareIDs: [StreamID] = []

    /// The most recently looked-up stream: bulk transfers hit it for nearly every frame, skipping hashing.
    @exclusivity(unchecked) var cachedStream: StreamRecord?

    // Events.
    @exclusivity(unchecked) var events: [StreamEvent] = []
    @exclusivity(unchecked) var eventHead = 0

    /// Creates the stream layer for one connection.
    public init(side: Side, configuration: Configuration = Configuration()) {
        self.side = side
        self.configuration = configuration
        localStreamLimit = PerDirection(
            bidirectional: configuration.maxConcurrentBidirectionalStreams,
            unidirectional: configuration.maxConcurrentUnidirectionalStreams)
        connectionReceiveWindow = ReceiveWindow(
            initialLimit: configuration.initialMaxData, maximumWindowSize: configuration.maxConnectionWindow)
    }

    /// The stream record for `id`, if tracked.
    @inline(__always)
    func lookup(_ id: StreamID) -> StreamRecord? {
        if let cached = cachedStream, cached.id == id { return cached }
        let found = streams[id]
        if found != nil { cachedStream = found }
        return found
    }

    // MARK: Queries

    /// Streams currently tracked (open, or closing and awaiting acknowledgements).
    public var activeStreamCount: Int { streams.count }

    /// The sending part's state, or nil if the stream is unknown, closed, or has no sending part.
    public func sendState(of id: StreamID) -> SendStreamState? {
        guard let stream = lookup(id), stream.hasSendPart else { return nil }
        return stream.sendState
    }

    /// The receiving part's state, or nil if the stream is unknown, closed, or has no receiving part.
    public func receiveState(of id: StreamID) -> ReceiveStreamState? {
        guard let stream = lookup(id), stream.hasReceivePart else { return nil }
        return stream.receiveState
    }

    /// The stream's receive window (for diagnostics and auto-tuning), or nil.
    public func receiveWindow(of id: StreamID) -> ReceiveWindow? {
        guard let stream = lookup(id), stream.hasReceivePart else { return nil }
        return stream.receiveWindow
    }

    /// Adjusts the connection receive window (auto-tuning hook, RFC 9000 §4.2): e.g. core calls `growWindow()` when
    /// MAX_DATA updates go out more often than once per RTT. The size stays capped by `maximumWindowSize`.
    public func tuneConnectionReceiveWindow(_ body: (inout ReceiveWindow) -> Void) {
        body(&connectionReceiveWindow)
        connectionReceiveWindow.windowSize = min(connectionReceiveWindow.windowSize,
                                                 connectionReceiveWindow.maximumWindowSize)
        if connectionReceiveWindow.needsUpdate { pendingMaxData = true }
    }

    /// Adjusts one stream's receive window (auto-tuning hook); no effect for unknown or send-only streams.
    public func tuneReceiveWindow(of id: StreamID, _ body: (inout ReceiveWindow) -> Void) {
        guard let stream = lookup(id), stream.hasReceivePart else { return }
        body(&stream.receiveWindow)
        stream.receiveWindow.windowSize = min(stream.receiveWindow.windowSize, stream.receiveWindow.maximumWindowSize)
        if stream.receiveState == .receive && !stream.isLocallyStopped && stream.receiveWindow.needsUpdate {
            stream.pendingMaxStreamData = true
            scheduleControl(stream)
        }
    }

    /// The stream's send credit (MAX_STREAM_DATA from the peer), or nil.
    public func sendCredit(of id: StreamID) -> SendCredit? {
        guard let stream = lookup(id), stream.hasSendPart else { return nil }
        return stream.sendCredit
    }

    /// Bytes written to the stream but not yet acknowledged, or nil.
    public func bufferedSendCount(of id: StreamID) -> Int? {
        guard let stream = lookup(id), stream.hasSendPart else { return nil }
        return stream.sendBuffer.bufferedCount
    }

    /// The stream limit the peer granted us (MAX_STREAMS it sent).
    public func peerMaxStreams(bidirectional: Bool) -> UInt64 { peerStreamLimit[bidirectional] }

    /// The stream limit we granted the peer (MAX_STREAMS we advertise).
    public func localMaxStreams(bidirectional: Bool) -> UInt64 { localStreamLimit[bidirectional] }

    // MARK: Peer parameters

    /// Applies the peer's transport parameters (RFC 9000 §18.2): initial MAX_DATA, per-stream limits and stream
    /// counts. Limits only grow; streams opened before this call get the new limits.
    public func applyPeerParameters(_ parameters: TransportParameters) {
        peerInitialMaxStreamDataBidiLocal = parameters.initialMaxStreamDataBidiLocal
        peerInitialMaxStreamDataBidiRemote = parameters.initialMaxStreamDataBidiRemote
        peerInitialMaxStreamDataUni = parameters.initialMaxStreamDataUni
        if connectionSendCredit.raise(to: parameters.initialMaxData) { releaseConnectionBlocked() }
        raisePeerStreamLimit(bidirectional: true, to: parameters.initialMaxStreamsBidi)
        raisePeerStreamLimit(bidirectional: false, to: parameters.initialMaxStreamsUni)
        for stream in streams.values where stream.hasSendPart {
            if stream.sendCredit.raise(to: initialSendLimit(for: stream.id)) { scheduleSend(stream) }
        }
    }

    func initialSendLimit(for id: StreamID) -> UInt64 {
        if !id.isBidirectional { return peerInitialMaxStreamDataUni }
        // The peer's "bidi_local" covers streams it opened; "bidi_remote" those we opened.
        return id.initiator == side ? peerInitialMaxStreamDataBidiRemote : peerInitialMaxStreamDataBidiLocal
    }

    func initialReceiveLimit(for id: StreamID) -> UInt64 {
        if !id.isBidirectional { return configuration.initialMaxStreamDataUni }
        return id.initiator == side
            ? configuration.initialMaxStreamDataBidiLocal : configuration.initialMaxStreamDataBidiRemote
    }

    func raisePeerStreamLimit(bidirectional: Bool, to limit: UInt64) {
        guard limit > peerStreamLimit[bidirectional] else { return }
        peerStreamLimit[bidirectional] = limit
        if isOpenBlocked[bidirectional] {
            isOpenBlocked[bidirectional] = false
            pushEvent(.streamsAvailable(bidirectional: bidirectional))
        }
    }

    func makeStream(_ id: StreamID) -> StreamRecord {
        let local = id.initiator == side
        let stream = StreamRecord(
            id: id,
            hasSendPart: id.isBidirectional || local,
            hasReceivePart: id.isBidirectional || !local,
            sendLimit: initialSendLimit(for: id),
            receiveLimit: initialReceiveLimit(for: id),
            maximumReceiveWindow: configuration.maxStreamWindow)
        streams[id] = stream
        return stream
    }

    // MARK: Events

    /// The next stream event, oldest first.
    public func pollEvent() -> StreamEvent? {
        guard eventHead < events.count else { return nil }
        let event = events[eventHead]
        eventHead += 1
        if eventHead == events.count {
            events.removeAll(keepingCapacity: true)
            eventHead = 0
        }
        return event
    }

    func pushEvent(_ event: StreamEvent) {
        events.append(event)
    }

    func signalReadable(_ stream: StreamRecord) {
        guard !stream.readableSignalled else { return }
        stream.readableSignalled = true
        pushEvent(.readable(stream.id))
    }

    // MARK: Closing

    /// Forgets a stream whose both parts reached a terminal state; for peer streams, grants the peer a new one
    /// (MAX_STREAMS, RFC 9000 §4.6).
    func collectIfClosed(_ stream: StreamRecord) {
        guard stream.isClosed, streams.removeValue(forKey: stream.id) != nil else { return }
        if cachedStream === stream { cachedStream = nil }
        guard stream.id.initiator != side else { return }
        let bidirectional = stream.id.isBidirectional
        closedPeerStreams[bidirectional] += 1
        let concurrent = bidirectional
            ? configuration.maxConcurrentBidirectionalStreams : configuration.maxConcurrentUnidirectionalStreams
        let newLimit = min(closedPeerStreams[bidirectional] + concurrent, 1 << 60)
        if newLimit > localStreamLimit[bidirectional] {
            localStreamLimit[bidirectional] = newLimit
            pendingMaxStreams[bidirectional] = true
        }
    }

    /// The connection closed (either way): drops every stream; later commands fail with `connectionClosed`.
    public func close() {
        isClosed = true
        streams.removeAll()
        cachedStream = nil
        sendQueue.removeAll()
        priorityLevels.removeAll()
        controlQueue.removeAll()
        connectionBlocked.removeAll()
        pendingMaxData = false
        pendingDataBlocked = false
        pendingMaxStreams = PerDirection(false)
        pendingStreamsBlocked = PerDirection(false)
    }
}

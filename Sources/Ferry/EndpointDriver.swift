import FerryTransport
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The event-loop half of an `Endpoint`: owns the `TransportEndpoint` and moves bytes between it and the socket.
///
/// It is the UDP channel's only handler, so it runs on the channel's event loop and needs no locks: the
/// transport is not thread-safe and is only touched here (design.md: data flows socket → transport → events on
/// receive and command → transport → `pollTransmit` → batched write on send).
///
/// - Receive: NIO reads a batch with `recvmmsg`; each datagram goes to `handle(datagram:from:now:)`, and after
///   the batch (`channelReadComplete`) the driver drains events once and flushes transmits once, in a drive queued
///   behind the tasks those events resumed.
/// - Send: `pollTransmit` writes straight into one ByteBuffer per batch (no per-datagram allocation); the
///   datagrams are written as slices of it and flushed together. With UDP GSO (Linux, `UDP_SEGMENT`) the
///   transport hands back runs of equal-size datagrams to one peer, and each run goes out as one envelope with
///   `Metadata.segmentSize`, so the kernel splits it: one `sendmmsg` entry per run instead of per datagram.
///   Without GSO (other platforms, old kernels, `FERRY_DISABLE_GSO=1`, or after a GSO write fails) every
///   datagram is its own envelope. When the channel stops being writable the driver stops polling and resumes
///   on `channelWritabilityChanged`.
/// - Timers: one scheduled callback for `nextTimeout()`. It is only moved when the deadline gets earlier; a
///   callback that fires early finds nothing due and re-arms, which is cheaper than rescheduling on every ACK.
///
/// - Receive with GRO (Linux, `UDP_GRO`): the kernel may hand over a run of equal-size datagrams from one peer
///   as one read with `Metadata.segmentSize`; `channelRead` splits it back into datagrams before
///   `handle(datagram:from:now:)`. Turned on at `channelActive` with larger read slots (a run is up to 64 KiB);
///   off where unsupported or with `FERRY_DISABLE_GRO=1`.
final class EndpointDriver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// The minimum buffer `pollTransmit` may be given (transport contract).
    static let transmitBufferMinimum = 65_535

    let transport: TransportEndpoint
    let configuration: EndpointConfiguration
    let eventLoop: any EventLoop
    let localID: EndpointID
    let acceptsIncoming: Bool
    var logger: Logger

    var context: ChannelHandlerContext?
    /// The public objects' shared core, set after bind; weak so the driver never keeps the socket open itself.
    weak var core: EndpointCore?
    var addressCache: SocketAddressCache

    // Send path.
    var isWritable = true
    /// Where (offset, size, destination, ECN, GSO segment size) each transmit of the current batch sits in the
    /// batch buffer; a transmit with a segment size is a run of datagrams sent as one GSO envelope.
    var batchTransmits: [
        (offset: Int, size: Int, destination: SocketAddress, peer: NetworkAddress, ecn: UInt8, segmentSize: Int?)
    ] = []
    /// Datagrams per GSO run asked of the transport; 1 means GSO is off and every datagram is its own envelope.
    var gsoMaxSegments: Int
    /// Whether the next GSO write carries a promise, so a kernel that refuses `UDP_SEGMENT` turns GSO off.
    var isGSOUnconfirmed = true
    let sendBufferCapacity: Int
    /// The batch buffer `pollTransmit` writes into, recycled across batches.
    var sendBuffer: ByteBuffer?

    /// Where a received datagram is copied for the transport; its storage is reused (`handle(datagram:…)`).
    var receiveScratch: [UInt8] = []
    /// The largest datagram the local stack accepted per destination (EndpointDriver+SendErrors.swift).
    var sendSizes = LocalSendSizes()

    // Drive scheduling.
    /// A handshake completed while processing a receive batch: flush now rather than behind queued work.
    var isHandshakeFlushDue = false
    var isDriveScheduled = false
    var isDriving = false
    var isDriveRequestedWhileDriving = false
    /// `now` for the receive batch in progress, read once per batch.
    var batchNow: Instant?

    // Timer.
    var timer: NIOScheduledCallback?
    var timerDeadline: Instant?

    // Socket recovery (EndpointDriver+SocketRecovery.swift).
    /// The socket's bound address, to reopen it on.
    var boundAddress: SocketAddress?
    /// When recent reopenings happened, to bound them.
    var socketReopenTimes: [Instant] = []
    /// The `now` of the last `handleTimeout` call (guards against a deadline that never advances).
    var lastTimeoutHandled: Instant?

    // Connections.
    var connections: [ConnectionHandle: ConnectionRuntime] = [:]
    var incomingQueue = CircularBuffer<Connection>()
    var incomingWaiters = CircularBuffer<Waiter<Result<Connection?, ConnectionError>>>()
    /// The hook chain and its bookkeeping (Hooks/EndpointDriver+Hooks.swift).
    var hookState = HookRuntimeState()
    /// Relay links and relayed paths (Relay/EndpointDriver+Relay.swift).
    var relayState = RelayRuntimeState()
    /// Tasks waiting for a relay link to come up (`Endpoint.connect` by id alone right after bind).
    var relayLinkWaiters: [Waiter<Void>] = []
    /// When candidates were last compared with the interface addresses (Relay/EndpointDriver+Punching.swift).
    var lastCandidateCheck = LoopClock.now()

    // Shutdown.
    enum State {
        case open
        case closing
        case closed
    }
    var state: State = .open
    var closeWaiters: [Resumer<Void>] = []
    var closeDeadlineTask: Scheduled<Void>?

    init(
        transport: TransportEndpoint,
        configuration: EndpointConfiguration,
        eventLoop: any EventLoop,
        localID: EndpointID,
        acceptsIncoming: Bool,
        socketIsIPv6: Bool
    ) {
        self.transport = transport
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.localID = localID
        self.acceptsIncoming = acceptsIncoming
        self.logger = configuration.logger
        self.addressCache = SocketAddressCache(socketIsIPv6: socketIsIPv6)
        let batch = max(1, configuration.sendBatchSize)
        self.sendBufferCapacity = batch * max(configuration.transport.maxUDPPayloadSize, 1500)
            + Self.transmitBufferMinimum
        batchTransmits.reserveCapacity(batch)
        self.gsoMaxSegments = Self.gsoSegmentLimit(maxUDPPayloadSize: configuration.transport.maxUDPPayloadSize)
    }

    /// The most datagrams one GSO run may hold, or 1 when GSO is unavailable or disabled.
    ///
    /// Bounded by the kernel (`UDP_MAX_SEGMENTS`, 64 on Linux), by one IP packet (a run is a single ~64 KiB UDP
    /// send before segmentation), and by 32: longer runs save few more syscalls but make bursts burstier.
    static func gsoSegmentLimit(maxUDPPayloadSize: Int) -> Int {
        guard System.supportsUDPSegmentationOffload else { return 1 }
        if isDisabled("FERRY_DISABLE_GSO") { return 1 }
        let kernelLimit = 64  // UDP_MAX_SEGMENTS in Linux 4.18 and later (NIO no longer exposes it)
        let sizeLimit = 65_000 / max(maxUDPPayloadSize, 1200)
        return max(1, min(32, kernelLimit, sizeLimit))
    }

    /// Whether the environment variable `name` is set to something other than "" or "0" (benchmark A/B switch).
    static func isDisabled(_ name: String) -> Bool {
        guard let value = getenv(name) else { return false }
        let text = String(cString: value)
        return !text.isEmpty && text != "0"
    }

    /// A Sendable reference to this driver for closures that hop onto its loop.
    var loopBound: NIOLoopBound<EndpointDriver> {
        NIOLoopBound(self, eventLoop: eventLoop)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // After `rebind` (Endpoint+Rebind.swift) the old socket's events no longer concern the driver.
        if self.context === context { self.context = nil }
    }

    func channelActive(context: ChannelHandlerContext) {
        boundAddress = context.channel.localAddress
        configureReceiveOptions(channel: context.channel)
        context.fireChannelActive()
    }

    /// Turns on GRO and ECN reporting for `channel`: the first socket once it is active, and a rebound one
    /// (`Endpoint.rebind`), which is already active when the driver joins its pipeline.
    func configureReceiveOptions(channel: any Channel) {
        enableReceiveOffload(channel: channel)
        // Report received datagrams' ECN codepoints (RFC 9000 §13.4.1); needs the bound address, so it is set
        // here. Without it the peer's ECN validation fails and it simply stops marking.
        try? channel.syncOptions?.setOption(.explicitCongestionNotification, value: true)
    }

    /// Read slots for GRO: a coalesced run is at most one 64 KiB UDP payload.
    static let groSlotSize = 65_536
    /// Slots per `recvmmsg` with GRO (each run already carries many datagrams, so fewer slots suffice).
    static let groSlotCount = 16

    /// Turns on UDP GRO where the kernel supports it, with read slots big enough for a coalesced run.
    ///
    /// Done here rather than in the bootstrap because the bootstrap's options are applied after the handler is
    /// added; a failure leaves the plain one-datagram-per-slot reads in place.
    private func enableReceiveOffload(channel: any Channel) {
        guard System.supportsUDPReceiveOffload, !Self.isDisabled("FERRY_DISABLE_GRO"),
            let options = channel.syncOptions
        else { return }
        do {
            try options.setOption(.datagramReceiveOffload, value: true)
            try options.setOption(.datagramReceiveSegmentSize, value: true)
            try options.setOption(.datagramVectorReadMessageCount, value: Self.groSlotCount)
            try options.setOption(
                .recvAllocator,
                value: FixedSizeRecvByteBufferAllocator(capacity: Self.groSlotCount * Self.groSlotSize)
            )
        } catch {
            logger.debug("UDP GRO unavailable", metadata: ["error": "\(error)"])
            try? options.setOption(.datagramReceiveOffload, value: false)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard state != .closed, let remote = addressCache.networkAddress(for: envelope.remoteAddress) else { return }
        let now: Instant
        if let batchNow {
            now = batchNow
        } else {
            now = LoopClock.now()
            batchNow = now
        }
        let ecn: UInt8
        switch envelope.metadata?.ecnState {
        case .some(.transportCapableFlag0): ecn = 0b10
        case .some(.transportCapableFlag1): ecn = 0b01
        case .some(.congestionExperienced): ecn = 0b11
        default: ecn = 0
        }
        if let segmentSize = envelope.metadata?.segmentSize, segmentSize > 0,
            envelope.data.readableBytes > segmentSize
        {
            // A GRO run: equal-size datagrams back to back, the last possibly shorter.
            var data = envelope.data
            while data.readableBytes > 0,
                let datagram = data.readSlice(length: min(segmentSize, data.readableBytes))
            {
                handle(datagram: datagram, from: remote, ecn: ecn, now: now)
            }
        } else {
            handle(datagram: envelope.data, from: remote, ecn: ecn, now: now)
        }
    }

    /// Hands one datagram to the transport through `receiveScratch`, whose storage is reused for every datagram.
    ///
    /// The transport decrypts packets in place in a `[UInt8]` (RFC 9001 §5), so the bytes are copied out of
    /// NIO's pooled receive buffer once; reusing the array makes that a `memcpy` without an allocation. If the
    /// transport keeps the array (a packet buffered until its keys arrive, RFC 9001 §5.7), the next
    /// `removeAll(keepingCapacity:)` sees shared storage and allocates afresh, so the kept copy stays intact.
    private func handle(datagram: ByteBuffer, from remote: NetworkAddress, ecn: UInt8, now: Instant) {
        receiveScratch.removeAll(keepingCapacity: true)
        receiveScratch.append(contentsOf: datagram.readableBytesView)
        transport.handle(datagram: &receiveScratch, from: remote, ecn: ecn, now: now)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        batchNow = nil
        // Resume the tasks this batch's events concern first, and flush in a drive queued behind them: a task on
        // the loop (`Endpoint.taskExecutor`) that answers at once then gets its reply into the same datagram as
        // the ACK and any flow-control or MAX_STREAMS update, instead of the update going out alone first.
        // A handshake that completed in this batch flushes at once: the client's Finished (and the server's
        // HANDSHAKE_DONE) must not wait behind a hook decision or a close that could overtake it in the queue.
        processEvents()
        if isHandshakeFlushDue {
            isHandshakeFlushDue = false
            drive()
        } else {
            scheduleDrive()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        guard self.context === context else { return context.fireChannelWritabilityChanged() }
        isWritable = context.channel.isWritable
        if isWritable { drive() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (ECONNREFUSED etc.) surface here; QUIC recovers through its own timers. EMSGSIZE does not:
        // NIO fails only the write's promise (EndpointDriver+SendErrors.swift).
        logger.debug("socket error", metadata: ["error": "\(error)"])
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state != .closed, self.context === context {
            if state == .open, let address = boundAddress, reopenSocket(at: address) {
                logger.warning("socket closed by an error; reopened it on the same address", metadata: ["address": "\(address)"])
            } else {
                logger.debug("socket closed")
                finishClose(channelAlreadyClosed: true)
            }
        }
        context.fireChannelInactive()
    }

    // MARK: Driving the transport

    /// Runs `drive()` once soon, coalescing any number of requests made before it runs.
    func scheduleDrive() {
        if isDriving {
            // Remember it: output produced after this drive's flush (for example by a write resumed from a
            // `streamWritable` event) must not wait for the next datagram or timer.
            isDriveRequestedWhileDriving = true
            return
        }
        guard !isDriveScheduled else { return }
        isDriveScheduled = true
        let bound = loopBound
        // Queued twice, so the drive runs after the jobs already queued and after the jobs those start (a
        // resumed task that spawns a child per stream, as servers do): their output shares one flush.
        eventLoop.execute { bound.eventLoop.execute { bound.value.drive() } }
    }

    /// Drains events, flushes transmits and re-arms the timer: the one place output leaves the transport.
    func drive() {
        isDriveScheduled = false
        isDriving = true
        if hookState.holdsIncoming { processIncomingAttempts() }
        processEvents()
        // Anything the events above queued goes out in this flush.
        isDriveRequestedWhileDriving = false
        let sentFullBatch = flushTransmits(now: LoopClock.now())
        // Sending can complete a close (the last CONNECTION_CLOSE) or surface new events.
        processEvents()
        isDriving = false
        if sentFullBatch || isDriveRequestedWhileDriving {
            isDriveRequestedWhileDriving = false
            scheduleDrive()
        }
        armTimer()
        if state == .closing, transport.connectionCount == 0 { finishClose(channelAlreadyClosed: false) }
    }

    /// Polls up to one batch of datagrams into a fresh buffer and writes them with one flush.
    ///
    /// A batch holds at most `sendBatchSize` datagrams, counting every segment of a GSO run. Returns true if the
    /// batch filled up, so more output may be waiting (the caller yields to reads first).
    private func flushTransmits(now: Instant) -> Bool {
        guard let context, isWritable, state != .closed else { return false }
        let batchLimit = max(1, configuration.sendBatchSize)
        // `clear()` reuses the storage when every slice of the previous batch has been written and released
        // (the usual case: a flush writes synchronously), and only allocates when NIO still queues some of them.
        var buffer = sendBuffer ?? context.channel.allocator.buffer(capacity: sendBufferCapacity)
        sendBuffer = nil
        buffer.clear()
        batchTransmits.removeAll(keepingCapacity: true)
        var datagrams = 0
        // All datagrams are written into `buffer` before any slice of it exists, so the writes never trigger a
        // copy-on-write of the shared storage.
        while datagrams < batchLimit, buffer.writableBytes >= Self.transmitBufferMinimum {
            let offset = buffer.writerIndex
            let maxSegments = min(gsoMaxSegments, batchLimit - datagrams)
            var transmit: Transmit?
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.transmitBufferMinimum) { pointer in
                transmit = transport.pollTransmit(now: now, into: pointer, maxSegments: maxSegments)
                return transmit?.size ?? 0
            }
            guard let transmit else { break }
            let segmentSize = transmit.segmentSize.flatMap { $0 > 0 && $0 < transmit.size ? $0 : nil }
            if RelayAddressBook.isRelayed(transmit.destination) {
                // A relayed path: the packets go into the relay's connection (polled later in this loop), and
                // their bytes leave the batch buffer again.
                relayTransmit(buffer: buffer, offset: offset, size: transmit.size, segmentSize: segmentSize,
                    to: transmit.destination)
                buffer.moveWriterIndex(to: offset)
                continue
            }
            datagrams += segmentSize.map { (transmit.size + $0 - 1) / $0 } ?? 1
            guard let destination = addressCache.socketAddress(for: transmit.destination) else {
                logger.debug("dropping datagram to unreachable address", metadata: ["to": "\(transmit.destination)"])
                continue
            }
            batchTransmits.append((offset, transmit.size, destination, transmit.destination, transmit.ecn, segmentSize))
        }
        defer { sendBuffer = buffer }
        guard !batchTransmits.isEmpty else { return false }
        for item in batchTransmits {
            guard let slice = buffer.getSlice(at: item.offset, length: item.size) else { continue }
            let ecnState: NIOExplicitCongestionNotificationState
            switch item.ecn & 0b11 {
            case 0b10: ecnState = .transportCapableFlag0
            case 0b01: ecnState = .transportCapableFlag1
            case 0b11: ecnState = .congestionExperienced
            default: ecnState = .transportNotCapable
            }
            if let segmentSize = item.segmentSize {
                let metadata = AddressedEnvelope<ByteBuffer>.Metadata(
                    ecnState: ecnState, packetInfo: nil, segmentSize: segmentSize)
                let envelope = AddressedEnvelope(remoteAddress: item.destination, data: slice, metadata: metadata)
                let promise = isGSOUnconfirmed ? makeGSOProbe() : makeSendSizeProbe(size: segmentSize, to: item.peer)
                context.write(wrapOutboundOut(envelope), promise: promise)
            } else {
                let metadata: AddressedEnvelope<ByteBuffer>.Metadata? =
                    item.ecn & 0b11 == 0 ? nil : .init(ecnState: ecnState)
                let envelope = AddressedEnvelope(remoteAddress: item.destination, data: slice, metadata: metadata)
                context.write(wrapOutboundOut(envelope), promise: makeSendSizeProbe(size: item.size, to: item.peer))
            }
        }
        let filled = datagrams >= batchLimit || buffer.writableBytes < Self.transmitBufferMinimum
        batchTransmits.removeAll(keepingCapacity: true)
        context.flush()
        isWritable = context.channel.isWritable
        return filled && isWritable
    }

    /// Hands the datagrams of one transmit to a relayed path's relay, one packet per GSO segment.
    private func relayTransmit(buffer: ByteBuffer, offset: Int, size: Int, segmentSize: Int?, to destination: NetworkAddress) {
        let step = segmentSize ?? size
        buffer.withUnsafeReadableBytes { readable in
            guard let base = readable.baseAddress else { return }
            var start = offset - buffer.readerIndex
            let end = start + size
            while start < end {
                let length = min(step, end - start)
                sendRelayedPacket(UnsafeRawBufferPointer(start: base + start, count: length), to: destination)
                start += length
            }
        }
    }

    /// A promise for the first GSO write: success confirms the kernel takes `UDP_SEGMENT`; failure turns GSO off
    /// for good (the lost datagrams are recovered by QUIC loss detection, RFC 9002 §6).
    private func makeGSOProbe() -> EventLoopPromise<Void> {
        makeWritePromise { driver, result in
            switch result {
            case .success:
                driver.isGSOUnconfirmed = false
            case .failure(let error):
                if driver.gsoMaxSegments > 1 {
                    driver.logger.notice("UDP GSO write failed; sending one datagram per write", metadata: ["error": "\(error)"])
                }
                driver.gsoMaxSegments = 1
                driver.isGSOUnconfirmed = false
            }
        }
    }

    /// Makes sure a callback fires no later than the transport's next deadline.
    private func armTimer() {
        guard state != .closed, var deadline = transport.nextTimeout() else { return }
        if let lastTimeoutHandled, deadline <= lastTimeoutHandled {
            // The transport still reports a deadline it was just given the chance to service; firing again at
            // once would spin the loop, so retry a millisecond later.
            deadline = lastTimeoutHandled + .milliseconds(1)
        }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timer = try? eventLoop.scheduleCallback(at: LoopClock.deadline(deadline), handler: TimerHandler(driver: loopBound))
        timerDeadline = timer == nil ? nil : deadline
    }

    /// The armed callback fired: run the transport's timers if due, then drive (which re-arms).
    fileprivate func timerFired() {
        timer = nil
        timerDeadline = nil
        guard state != .closed else { return }
        let now = LoopClock.now()
        if let due = transport.nextTimeout(), due <= now {
            transport.handleTimeout(now: now)
            lastTimeoutHandled = now
        }
        drive()
    }

    // MARK: Shutdown

    /// Starts a graceful close: CONNECTION_CLOSE to every peer, then the socket closes once the transport has
    /// no connections left or `closeTimeout` passes.
    func close(resumer: Resumer<Void>?) {
        if let resumer {
            if state == .closed { return resumer.resume() }
            closeWaiters.append(resumer)
        }
        guard state == .open else { return }
        state = .closing
        while let waiter = incomingWaiters.popFirst() { waiter.resumer.resume(returning: .success(nil)) }
        incomingQueue.removeAll()
        transport.close(errorCode: 0, reason: "endpoint closed", now: LoopClock.now())
        let bound = loopBound
        closeDeadlineTask = eventLoop.scheduleTask(in: configuration.closeTimeout.timeAmount) {
            let driver = bound.value
            if driver.state == .closing {
                driver.logger.debug("close timed out", metadata: ["connections": "\(driver.transport.connectionCount)"])
                driver.finishClose(channelAlreadyClosed: false)
            }
        }
        drive()
    }

    /// Fails everything still waiting, closes the socket and resumes `close()` callers once it is closed.
    func finishClose(channelAlreadyClosed: Bool) {
        guard state != .closed else { return }
        state = .closed
        closeDeadlineTask?.cancel()
        closeDeadlineTask = nil
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        while let waiter = incomingWaiters.popFirst() { waiter.resumer.resume(returning: .success(nil)) }
        incomingQueue.removeAll()
        for waiter in relayLinkWaiters { waiter.resumer.resume() }
        relayLinkWaiters.removeAll()
        for link in relayState.links.values {
            if case .tcp(let channel) = link.carrier { channel.close() }
        }
        for runtime in connections.values {
            runtime.failAllWaiters(.endpointClosed)
            if case .closed = runtime.phase {} else {
                runtime.phase = .closed(.applicationClosed(errorCode: 0, reason: "endpoint closed", by: .local))
                finishPathEvents(runtime)
            }
            if let reason = runtime.closeReason { runtime.resumeClosedWaiters(reason) }
        }
        let waiters = closeWaiters
        closeWaiters.removeAll()
        if channelAlreadyClosed || context == nil {
            for waiter in waiters { waiter.resume() }
            return
        }
        let promise = eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            for waiter in waiters { waiter.resume() }
        }
        context?.close(promise: promise)
    }
}

/// The timer callback; a Sendable wrapper that hops back into the driver (already on its loop).
struct TimerHandler: NIOScheduledCallbackHandler, Sendable {
    let driver: NIOLoopBound<EndpointDriver>

    func handleScheduledCallback(eventLoop: some EventLoop) {
        driver.value.timerFired()
    }
}
